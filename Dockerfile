# ServiceX App (TypeScript): compiled JavaScript on Node 24 LTS, production dependencies only.
#   docker build -t <registry>/servicex-app-ts:<version> .      (README: "Docker")
# test/integration/image.test.ts rebuilds this image's file set from this file and .dockerignore (its COPY
# lines and RUN commands) and runs it: keep to COPY, RUN, ENV, WORKDIR, USER, EXPOSE, HEALTHCHECK, CMD.

# --- build: every dependency, the Prisma client, tsc → dist/ -------------------------------------------------
FROM node:24-bookworm-slim AS build
# PRISMA_SCHEMA_ENGINE_BINARY: `prisma generate` needs no schema engine, but the CLI tries to download one
# (binaries.prisma.sh) unless this names an existing file; migrations use the WebAssembly engine instead.
ENV PRISMA_SCHEMA_ENGINE_BINARY=/bin/true \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs its install script (no native engine), and the root postinstall
# (prisma generate) needs the schema, which is copied next.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts/build-if-stale.mjs ./scripts/
COPY src ./src
RUN npm run db:generate && npm run build

# --- runtime -------------------------------------------------------------------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PORT=5000 \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prune-runtime.mjs ./scripts/
# prune:runtime drops what the compiled App never loads from node_modules (source maps, type declarations,
# Prisma's query compilers for other databases, Markdown): about 118 MB of the 247 MB installed.
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm run prune:runtime && npm cache clean --force
COPY --from=build /app/dist ./dist
# Read at run time from dist/'s parent: the migrations (and schema.prisma), the pages, their stylesheet.
COPY prisma ./prisma
COPY views ./views
COPY public ./public
COPY boot.sh ./
# /app/data: the embedded PGlite database (no DATABASE_URL) and local results; mount a volume to keep them.
RUN chmod 0755 boot.sh && mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 5000
# Ready = the database answers and the broker is connected (the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||5000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# boot.sh ends with `exec node dist/main.js`: the server is PID 1 and handles SIGTERM itself (graceful drain
# within SHUTDOWN_GRACE_MS, 25 s; give `docker stop -t`/terminationGracePeriodSeconds a little more).
CMD ["./boot.sh"]
