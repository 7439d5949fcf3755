import { fileURLToPath } from 'node:url'
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript'
// The client is generated from the control-plane's routes. It is imported by path, not as a workspace
// dependency: control-plane's tests depend on this package, and a dependency back would be a cycle.
// Building the document runs no handler, so nothing here opens a database or a socket.
import { openApiDocument } from '../../control-plane/src/app.js'

/** The committed types that `npm run generate -w @wa-cluster/client` rewrites. */
export const SCHEMA_FILE = fileURLToPath(new URL('../src/schema.d.ts', import.meta.url))

/** The API's OpenAPI document, as `GET /openapi.json` serves it. */
export function apiDocument(): ReturnType<typeof openApiDocument> {
  return openApiDocument()
}

/** The text of `src/schema.d.ts` for the current routes. */
export async function schemaSource(): Promise<string> {
  const ast = await openapiTS(apiDocument() as OpenAPI3, { silent: true })
  return COMMENT_HEADER + astToString(ast)
}
