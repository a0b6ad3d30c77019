# ServiceX App (TypeScript). Build: docker build -t servicex-app-ts .   Run: see docker-compose.yml.
# The image runs the TypeScript sources with tsx (no separate compile step), like `npm start`.
FROM node:20-bookworm-slim

# PRISMA_SCHEMA_ENGINE_BINARY: `prisma generate` needs no schema engine, but the CLI tries to download one
# (binaries.prisma.sh) unless this names an existing file; migrations use the WebAssembly engine instead.
ENV NODE_ENV=production \
    PORT=5000 \
    PRISMA_SCHEMA_ENGINE_BINARY=/bin/true \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

WORKDIR /app

# Dependencies first, so this layer is rebuilt only when the lockfile changes. Runtime needs only
# `dependencies` (tsx, prisma CLI and client, adapters, PGlite, schema-engine-wasm). --ignore-scripts: no
# dependency install script is needed (no native engines are used) and the root postinstall (prisma
# generate) needs the schema, which is generated explicitly below.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY tsconfig.json prisma.config.ts boot.sh ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY views ./views
COPY src ./src

# The generated client lives in src/generated/prisma (excluded from the build context by .dockerignore).
RUN npx prisma generate \
    && chmod 0755 boot.sh \
    && mkdir -p /app/data \
    && chown -R node:node /app/data

# Non-root. /app/data holds the embedded PGlite database when no DATABASE_URL is given; mount a volume there
# to keep it.
USER node

EXPOSE 5000
CMD ["./boot.sh"]
