import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL into migrations/ from the schema; `npm run db:migrate` applies it.
export default defineConfig({
  dialect: "postgresql",
  schema: "./workers/db/schema.ts",
  out: "./migrations",
  dbCredentials: { url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
});
