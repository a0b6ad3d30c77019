import { defineConfig } from "prisma/config";

// Prisma 7 keeps connection settings out of schema.prisma. Generation needs no database; migrations are
// applied by scripts/migrate.ts with the WebAssembly schema engine (no native binary download).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
