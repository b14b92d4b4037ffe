import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { FlatCompat } from "@eslint/eslintrc";
import importPlugin from "eslint-plugin-import";

const compat = new FlatCompat({ baseDirectory: dirname(fileURLToPath(import.meta.url)) });

const config = [
  { ignores: [".next/**", "out/**", "node_modules/**", "next-env.d.ts"] },
  ...compat.extends("next/core-web-vitals", "next/typescript"),
  {
    // next/core-web-vitals registers this same plugin object (and the TypeScript resolver, so
    // `@/…` imports resolve); naming it here makes the dependency explicit.
    plugins: { import: importPlugin },
    // Never parse a package's files for their imports (hls.js alone took ~25 s): a cycle
    // through node_modules cannot involve our modules anyway.
    settings: { "import/ignore": ["node_modules"] },
    rules: {
      // No import cycles among our modules (api ↔ session was one).
      "import/no-cycle": ["error", { ignoreExternal: true }],
      // `useAsyncEffect(load, deps, …)`: its deps are checked like an effect's.
      "react-hooks/exhaustive-deps": ["warn", { additionalHooks: "^useAsyncEffect$" }],
    },
  },
];

export default config;
