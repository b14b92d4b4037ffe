// The API's TypeScript types, generated from the repository's OpenAPI document (`../openapi.json`,
// itself written by `python -m functions.openapi`) with openapi-typescript.
//
//   node scripts/api-schema.mjs           write src/lib/api-schema.ts   (npm run generate:api)
//   node scripts/api-schema.mjs --check   fail if it differs from what the document generates now
//                                         (npm run check:api, part of `make web-check`)

import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import openapiTS, { astToString } from "openapi-typescript";

const DOCUMENT = new URL("../../openapi.json", import.meta.url);
const OUTPUT = new URL("../src/lib/api-schema.ts", import.meta.url);

const HEADER = `// GENERATED FILE: do not edit. The HTTP API's types, made by openapi-typescript from the
// repository's OpenAPI document (../openapi.json, written by \`python -m functions.openapi\`).
// Regenerate with \`cd web && npm run generate:api\`; \`npm run check:api\` (in \`make web-check\`)
// fails while this file is stale. Use the types through src/lib/types.ts.

`;

async function generate() {
  const ast = await openapiTS(DOCUMENT, { silent: true });
  return HEADER + astToString(ast);
}

const check = process.argv.includes("--check");
const fresh = await generate();
const output = fileURLToPath(OUTPUT);
if (check) {
  const current = await readFile(output, "utf8").catch(() => null);
  if (current !== fresh) {
    const why = current === null ? "is missing" : "is stale: ../openapi.json has changed since it was generated";
    console.error(`${output} ${why}. Run \`npm run generate:api\` in web/ (and fix what the new types break).`);
    process.exit(1);
  }
  console.log("src/lib/api-schema.ts matches ../openapi.json");
} else {
  await writeFile(output, fresh);
  console.log(`wrote ${output}`);
}
