import { existsSync, readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Env, Hono } from 'hono'

/**
 * What the pages load, all from this process: the project's own scripts and styles under
 * `control-plane/web/`, and a short allow-list of files from pinned npm packages. Nothing comes
 * from a CDN, so `/docs`, the console and the link page work on a machine with no internet.
 */
const require = createRequire(import.meta.url)
/** A package's folder, found from its main entry: htm's `exports` do not let `htm/package.json` resolve. */
function packageDir(name: string): string {
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === name) return dir
  }
  throw new Error(`cannot find the folder of package ${name}`)
}

/** `/assets/vendor/<name>` → a file of a pinned package (see control-plane/package.json). */
const VENDOR_FILES: Record<string, () => string> = {
  // Preact and htm in one ES module: components and hooks, no build step.
  'preact-htm.js': () => join(packageDir('htm'), 'preact', 'standalone.module.js'),
  'swagger-ui-bundle.js': () => join(packageDir('swagger-ui-dist'), 'swagger-ui-bundle.js'),
  'swagger-ui.css': () => join(packageDir('swagger-ui-dist'), 'swagger-ui.css'),
}

/** The project's own page scripts and styles, served at `/assets/app/<path>`. */
export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web')

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

type Asset = { body: Uint8Array; type: string }

/** Reads every file once, at the first request: the set is fixed, so a path can only name one of them. */
async function loadAppAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>()
  for (const entry of await readdir(WEB_DIR, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const type = CONTENT_TYPES[extname(entry.name)]
    if (!type) continue
    const path = join(entry.parentPath, entry.name)
    assets.set(relative(WEB_DIR, path).split(sep).join('/'), { body: readFileSync(path), type })
  }
  return assets
}

function serve(asset: Asset, immutable: boolean): Response {
  return new Response(asset.body, {
    headers: {
      'content-type': asset.type,
      'x-content-type-options': 'nosniff',
      // Vendor files change only with the package version; the app's own files with a deploy.
      'cache-control': immutable ? 'public, max-age=86400' : 'no-cache',
    },
  })
}

export function registerStaticAssets<E extends Env>(app: Hono<E>): void {
  const vendor = new Map<string, Asset>()
  let appAssets: Promise<Map<string, Asset>> | undefined
  app.get('/assets/vendor/:name', (c) => {
    const name = c.req.param('name')
    const locate = VENDOR_FILES[name]
    if (!locate) return c.notFound()
    let asset = vendor.get(name)
    if (!asset) {
      asset = { body: readFileSync(locate()), type: CONTENT_TYPES[extname(name)] ?? 'text/plain' }
      vendor.set(name, asset)
    }
    return serve(asset, true)
  })
  app.get('/assets/app/*', async (c) => {
    appAssets ??= loadAppAssets()
    const asset = (await appAssets).get(c.req.path.slice('/assets/app/'.length))
    return asset ? serve(asset, false) : c.notFound()
  })
}
