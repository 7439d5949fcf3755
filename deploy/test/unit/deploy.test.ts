// Keeps deploy/ (Dockerfile, compose, Kubernetes manifests) consistent with the code without a Docker
// engine or a cluster: every YAML parses, every env var is one the app reads, every npm script named
// exists, every Secret/ConfigMap reference resolves, probes and grace periods match the design.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { configSchema } from '../../../shared/src/config.js'

const deployDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const repoRoot = resolve(deployDir, '..')
const k8sDir = join(deployDir, 'kubernetes')

const rootPackage = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>
  workspaces: string[]
}
const npmScripts = new Set(Object.keys(rootPackage.scripts))
/** Every environment variable the processes read (shared/src/config.ts is the whole contract). */
const knownEnv = new Set(Object.keys(configSchema.shape))
/** shared/src/config.ts's default lease TTL, unless overridden in the ConfigMap. */
const defaultLeaseTtlMs = configSchema.shape.LEASE_TTL_MS.parse(undefined) as number

type Json = Record<string, any>

/** Parses every document of a YAML file; fails the test on any error or warning. */
function parseYamlFile(path: string): Json[] {
  const text = readFileSync(path, 'utf8')
  const docs = parseAllDocuments(text, { merge: true, prettyErrors: true })
  if (!Array.isArray(docs)) throw new Error(`${path}: not a YAML stream`)
  for (const doc of docs) {
    expect(doc.errors.map((e) => `${path}: ${e.message}`)).toEqual([])
    expect(doc.warnings.map((w) => `${path}: ${w.message}`)).toEqual([])
  }
  return docs.map((doc) => doc.toJS({ maxAliasCount: 1000 }) as Json).filter((doc) => doc != null)
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !path.includes(`${join(deployDir, 'test')}`))
}

/** `npm run X` / ENTRYPOINT ["npm","run"] + args [X, ...]: the script name X. */
function scriptOf(args: unknown): string {
  expect(Array.isArray(args), `args must be an exec-form list, got ${JSON.stringify(args)}`).toBe(true)
  const [script] = args as string[]
  expect(typeof script).toBe('string')
  return script!
}

describe('every YAML file under deploy/', () => {
  const files = yamlFilesUnder(deployDir)
  it('finds the compose file and the Kubernetes manifests', () => {
    expect(files.map((f) => f.slice(deployDir.length + 1)).sort()).toEqual(
      expect.arrayContaining([
        'compose.yaml',
        'kubernetes/kustomization.yaml',
        'kubernetes/session-node.yaml',
      ]),
    )
  })
  it.each(files.map((f) => [f.slice(deployDir.length + 1), f]))('%s parses without errors', (_name, path) => {
    expect(parseYamlFile(path).length).toBeGreaterThan(0)
  })
})

describe('Dockerfile', () => {
  type Instruction = { keyword: string; args: string; line: number }
  /** Minimal parser: comments, blank lines and `\` continuations; keyword upper-cased. */
  function parseDockerfile(text: string): Instruction[] {
    const out: Instruction[] = []
    let pending = ''
    let start = 0
    text.split('\n').forEach((raw, index) => {
      const line = raw.trim()
      if (!pending && (line === '' || line.startsWith('#'))) return
      if (pending && line.startsWith('#')) return
      if (!pending) start = index + 1
      pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim()
      if (line.endsWith('\\')) return
      const match = /^([A-Za-z]+)\s+(.*)$/.exec(pending)
      if (!match) throw new Error(`Dockerfile:${start}: cannot parse "${pending}"`)
      out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: start })
      pending = ''
    })
    if (pending) throw new Error('Dockerfile: dangling line continuation')
    return out
  }
  const dockerfile = readFileSync(join(deployDir, 'Dockerfile'), 'utf8')
  const instructions = parseDockerfile(dockerfile)
  const jsonArgs = (keyword: string): string[] => {
    const found = instructions.filter((i) => i.keyword === keyword)
    expect(found, `exactly one ${keyword}`).toHaveLength(1)
    return JSON.parse(found[0]!.args) as string[]
  }

  it('starts FROM a Node 20 bookworm-slim image', () => {
    expect(instructions[0]!.keyword).toBe('FROM')
    expect(instructions[0]!.args).toMatch(/^node:20[\w.-]*-bookworm-slim\b/)
  })

  it('has ENTRYPOINT npm run and a CMD naming an existing script', () => {
    expect(jsonArgs('ENTRYPOINT')).toEqual(['npm', 'run'])
    const cmd = jsonArgs('CMD')
    expect(cmd).toEqual(['start'])
    expect(npmScripts.has(cmd[0]!)).toBe(true)
  })

  it('installs with npm ci including dev dependencies (tsx runs the code)', () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)
    const install = runs.find((r) => /\bnpm ci\b/.test(r))
    expect(install, 'a RUN npm ci').toBeDefined()
    expect(install).not.toMatch(/--omit[= ]dev|--production|--only[= ]prod/)
    // NODE_ENV=production in the image would drop devDependencies unless they are asked for.
    if (/NODE_ENV=production/.test(dockerfile)) expect(install).toMatch(/--include[= ]dev/)
    // The scripts really are run by tsx, which only a dev install brings.
    expect(rootPackage.scripts['start:session-node']).toMatch(/^tsx /)
  })

  it('references only npm scripts that exist in RUN lines', () => {
    for (const run of instructions.filter((i) => i.keyword === 'RUN')) {
      for (const m of run.args.matchAll(/\bnpm run(?:-script)?\s+([\w:.-]+)/g)) {
        expect(npmScripts.has(m[1]!), `Dockerfile:${run.line} npm run ${m[1]}`).toBe(true)
      }
    }
  })

  it('copies patches/ before npm ci, whose postinstall applies them', () => {
    const ciIndex = instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))
    const copiedBefore = instructions.slice(0, ciIndex).filter((i) => i.keyword === 'COPY')
    expect(rootPackage.scripts.postinstall).toBe('patch-package')
    expect(copiedBefore.some((i) => /^patches\/? /.test(i.args))).toBe(true)
  })

  it('copies every workspace manifest and the lockfile before npm ci', () => {
    const ciIndex = instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))
    const copiedBefore = instructions
      .slice(0, ciIndex)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
    expect(copiedBefore).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']))
    for (const workspace of rootPackage.workspaces) {
      expect(copiedBefore, `COPY ${workspace}/package.json before npm ci`).toContain(
        `${workspace}/package.json`,
      )
    }
  })

  it('listens on the container interface: HOST=0.0.0.0 (the processes default to 127.0.0.1)', () => {
    expect(configSchema.shape.HOST.parse(undefined)).toBe('127.0.0.1')
    const env = instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args)
    expect(env.join(' ')).toMatch(/\bHOST=0\.0\.0\.0\b/)
  })

  it('runs as a non-root user', () => {
    const users = instructions.filter((i) => i.keyword === 'USER')
    expect(users.length).toBeGreaterThan(0)
    expect(users.at(-1)!.args).not.toMatch(/^(root|0)(:|$)/)
    const userIndex = instructions.lastIndexOf(users.at(-1)!)
    expect(instructions.findIndex((i) => i.keyword === 'ENTRYPOINT')).toBeGreaterThan(userIndex)
  })

  it('has a BuildKit ignore file that keeps what the image needs and drops node_modules and secrets', () => {
    const ignore = readFileSync(join(deployDir, 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '.git', '.env']))
    for (const needed of [
      'package.json',
      'package-lock.json',
      'drizzle',
      'drizzle/migrations',
      'shared',
      'tsconfig.base.json',
    ]) {
      expect(ignore, `${needed} must reach the build`).not.toContain(needed)
    }
    for (const workspace of rootPackage.workspaces) expect(ignore).not.toContain(workspace)
  })
})

describe('compose.yaml', () => {
  const [compose] = parseYamlFile(join(deployDir, 'compose.yaml')) as [Json]
  const services = compose.services as Record<string, Json>
  const envExample = readFileSync(join(deployDir, '.env.example'), 'utf8')
  /** Services running the wa-cluster image (they have the Dockerfile build). */
  const appServices = Object.entries(services).filter(([, s]) => s.build?.dockerfile === 'deploy/Dockerfile')
  const script = (s: Json) => scriptOf(s.command)
  const byScript = (name: string) => appServices.filter(([, s]) => script(s) === name)

  it('has postgres 16, redis 7, migrate, 2 control-planes and 3 session-nodes', () => {
    expect(services.postgres?.image).toMatch(/^postgres:16\b/)
    expect(services.redis?.image).toMatch(/^redis:7\b/)
    expect(script(services.migrate!)).toBe('db:migrate')
    expect(byScript('start:control-plane')).toHaveLength(2)
    expect(byScript('start:session-node')).toHaveLength(3)
  })

  it('builds every app service from deploy/Dockerfile with the repo root as context, one image', () => {
    expect(appServices.length).toBeGreaterThanOrEqual(6)
    for (const [, s] of appServices) {
      expect(resolve(deployDir, s.build.context)).toBe(repoRoot)
    }
    expect(new Set(appServices.map(([, s]) => s.image)).size).toBe(1)
  })

  it('runs only npm scripts that exist', () => {
    for (const [name, s] of appServices) expect(npmScripts.has(script(s)), `${name}: ${script(s)}`).toBe(true)
  })

  it('sets only environment variables the app knows', () => {
    for (const [name, s] of appServices) {
      const env = s.environment ?? {}
      expect(Array.isArray(env), `${name}: use the map form of environment`).toBe(false)
      for (const key of Object.keys(env)) expect(knownEnv.has(key), `${name}: unknown env ${key}`).toBe(true)
    }
  })

  it('gives the cluster processes the variables their role requires', () => {
    const required: Record<string, string[]> = {
      'start:control-plane': ['DATABASE_URL', 'REDIS_URL', 'ADMIN_API_KEY', 'AUTH_STATE_KEY'],
      'start:session-node': ['DATABASE_URL', 'REDIS_URL', 'AUTH_STATE_KEY', 'NODE_ID'],
      'db:migrate': ['DATABASE_URL'],
    }
    for (const [role, vars] of Object.entries(required)) {
      for (const [name, s] of byScript(role)) {
        for (const v of vars) expect(s.environment?.[v], `${name}: ${v}`).toBeTruthy()
      }
    }
    // AUTH_STATE_KEY must be identical on every process.
    const keys = new Set(
      appServices
        .filter(([, s]) => s.environment?.AUTH_STATE_KEY)
        .map(([, s]) => s.environment.AUTH_STATE_KEY),
    )
    expect(keys.size).toBe(1)
  })

  it('requires the secrets (VAR:? interpolation) and documents them in .env.example', () => {
    const text = readFileSync(join(deployDir, 'compose.yaml'), 'utf8')
    for (const secret of ['ADMIN_API_KEY', 'AUTH_STATE_KEY', 'POSTGRES_PASSWORD']) {
      expect(text).toMatch(new RegExp(`\\$\\{${secret}:\\?`))
      expect(envExample).toMatch(new RegExp(`^${secret}=`, 'm'))
    }
    // Every ${VAR:?...} the file requires must appear in .env.example.
    for (const m of text.matchAll(/\$\{(\w+):\?/g))
      expect(envExample).toMatch(new RegExp(`^#?\\s*${m[1]}=`, 'm'))
  })

  it('binds every app process to the container interface and keeps metrics off the published ports', () => {
    for (const [name, s] of [...byScript('start:control-plane'), ...byScript('start:session-node')]) {
      expect(s.environment?.HOST, `${name} HOST`).toBe('0.0.0.0')
    }
    for (const [name, s] of byScript('start:control-plane')) {
      const metricsPort = String(s.environment?.METRICS_PORT)
      expect(metricsPort, `${name} METRICS_PORT`).toMatch(/^\d+$/)
      expect(metricsPort).not.toBe(String(s.environment.PORT))
      const published = (s.ports ?? []).map((p: unknown) => String(p).split(':').at(-1))
      expect(published, `${name} must not publish the metrics port`).not.toContain(metricsPort)
    }
  })

  it('gives session-nodes distinct NODE_IDs and control-planes distinct host ports', () => {
    const ids = byScript('start:session-node').map(([, s]) => s.environment.NODE_ID)
    expect(new Set(ids).size).toBe(3)
    for (const id of ids) expect(configSchema.shape.NODE_ID.safeParse(id).success).toBe(true)
    const hostPorts = byScript('start:control-plane').map(([, s]) =>
      String(s.ports?.[0]).split(':').slice(0, -1).join(':'),
    )
    expect(hostPorts.every((p) => p.length > 0)).toBe(true)
    expect(new Set(hostPorts).size).toBe(2)
  })

  it('orders start-up: healthy postgres/redis, then a completed migration, then the apps', () => {
    for (const name of ['postgres', 'redis'])
      expect(services[name]!.healthcheck?.test, `${name} healthcheck`).toBeDefined()
    expect(services.migrate!.depends_on?.postgres?.condition).toBe('service_healthy')
    expect(services.migrate!.restart).toBe('no')
    for (const [name, s] of [...byScript('start:control-plane'), ...byScript('start:session-node')]) {
      expect(s.depends_on?.postgres?.condition, name).toBe('service_healthy')
      expect(s.depends_on?.redis?.condition, name).toBe('service_healthy')
      expect(s.depends_on?.migrate?.condition, name).toBe('service_completed_successfully')
      expect(JSON.stringify(s.healthcheck?.test), `${name} healthcheck on /ready`).toContain('/ready')
    }
  })

  it('gives session-nodes a stop grace period longer than the lease TTL', () => {
    for (const [name, s] of byScript('start:session-node')) {
      const seconds = Number(/^(\d+)s$/.exec(String(s.stop_grace_period))?.[1])
      const lease = Number(
        /LEASE_TTL_MS:-(\d+)/.exec(String(s.environment.LEASE_TTL_MS))?.[1] ??
          s.environment.LEASE_TTL_MS ??
          defaultLeaseTtlMs,
      )
      expect(seconds, name).toBeGreaterThan(lease / 1000)
    }
  })

  it('has wa-sim only under the demo profile, bound to all interfaces', () => {
    const sim = services['wa-sim']!
    expect(sim.profiles).toEqual(['demo'])
    const args = sim.command as string[]
    expect(scriptOf(args)).toBe('sim')
    expect(args).toEqual(expect.arrayContaining(['--host', '0.0.0.0', '--port']))
    expect(envExample).toMatch(/WA_WS_URL=ws:\/\/wa-sim:7000\/ws\/chat/)
  })
})

describe('kubernetes/', () => {
  const files = readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f))
  const manifests = files.filter((f) => f !== 'kustomization.yaml')
  const objects = manifests.flatMap((f) => parseYamlFile(join(k8sDir, f)).map((o) => ({ ...o, __file: f })))
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind)
  const one = (kind: string, name: string) => {
    const found = objects.find((o) => o.kind === kind && o.metadata?.name === name)
    expect(found, `${kind}/${name}`).toBeDefined()
    return found!
  }
  const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
  const podSpec = (w: Json): Json => w.spec.template.spec
  const containers = (w: Json): Json[] => [...(podSpec(w).initContainers ?? []), ...podSpec(w).containers]
  const mainContainer = (w: Json): Json => podSpec(w).containers[0]
  const configMap = one('ConfigMap', 'wa-cluster-config')
  const secret = one('Secret', 'wa-cluster-secrets')
  const controlPlane = one('Deployment', 'wa-control-plane')
  const sessionNode = one('StatefulSet', 'wa-session-node')

  it('has every kind the cluster needs, namespace-less, with apiVersion and name', () => {
    for (const kind of [
      'Deployment',
      'Service',
      'StatefulSet',
      'PodDisruptionBudget',
      'Job',
      'ConfigMap',
      'Secret',
    ]) {
      expect(ofKind(kind).length, kind).toBeGreaterThan(0)
    }
    for (const o of objects) {
      expect(o.apiVersion, `${o.__file} ${o.kind}`).toBeTruthy()
      expect(o.metadata?.name, `${o.__file} ${o.kind}`).toBeTruthy()
      expect(
        o.metadata?.namespace,
        `${o.__file} ${o.kind}/${o.metadata?.name} must be namespace-less`,
      ).toBeUndefined()
    }
  })

  it('lists every manifest in kustomization.yaml', () => {
    const [kustomization] = parseYamlFile(join(k8sDir, 'kustomization.yaml')) as [Json]
    expect([...kustomization.resources].sort()).toEqual([...manifests].sort())
  })

  it('keeps example secrets obviously fake', () => {
    const values = Object.values({ ...secret.stringData, ...secret.data }) as string[]
    expect(values.length).toBeGreaterThan(0)
    for (const v of values) expect(v).toContain('CHANGE-ME')
    // A forgotten placeholder must stop the process, not run with a guessable admin key.
    expect(configSchema.shape.ADMIN_API_KEY.safeParse(secret.stringData.ADMIN_API_KEY).success).toBe(false)
    expect(configSchema.shape.AUTH_STATE_KEY.safeParse(secret.stringData.AUTH_STATE_KEY).success).toBe(false)
  })

  it('puts only known settings in the ConfigMap, valid for the schema', () => {
    for (const [key, value] of Object.entries(configMap.data as Record<string, string>)) {
      expect(knownEnv.has(key), `ConfigMap key ${key}`).toBe(true)
      expect(typeof value, `ConfigMap ${key} must be a string`).toBe('string')
      const shape = configSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>
      expect(shape[key]!.safeParse(value).success, `ConfigMap ${key}=${value}`).toBe(true)
    }
    for (const key of Object.keys(secret.stringData))
      expect(knownEnv.has(key), `Secret key ${key}`).toBe(true)
  })

  it('resolves every envFrom / configMapKeyRef / secretKeyRef and sets only known env vars', () => {
    const configMaps = new Map(ofKind('ConfigMap').map((c) => [c.metadata.name, Object.keys(c.data ?? {})]))
    const secrets = new Map(
      ofKind('Secret').map((s) => [s.metadata.name, Object.keys({ ...s.data, ...s.stringData })]),
    )
    let refs = 0
    for (const w of workloads) {
      for (const c of containers(w)) {
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef)
            expect(configMaps.has(from.configMapRef.name), from.configMapRef.name).toBe(true)
          if (from.secretRef) expect(secrets.has(from.secretRef.name), from.secretRef.name).toBe(true)
          refs++
        }
        for (const e of c.env ?? []) {
          expect(knownEnv.has(e.name), `${w.metadata.name}: unknown env ${e.name}`).toBe(true)
          const s = e.valueFrom?.secretKeyRef
          if (s) {
            expect(secrets.get(s.name), `${w.metadata.name}: Secret ${s.name}`).toBeDefined()
            expect(secrets.get(s.name), `${w.metadata.name}: Secret ${s.name} key ${s.key}`).toContain(s.key)
            refs++
          }
          const m = e.valueFrom?.configMapKeyRef
          if (m) {
            expect(configMaps.get(m.name), `${w.metadata.name}: ConfigMap ${m.name} key ${m.key}`).toContain(
              m.key,
            )
            refs++
          }
        }
      }
    }
    expect(refs).toBeGreaterThan(0)
  })

  it('runs the npm scripts that exist, with the image entrypoint (args, not command)', () => {
    const expected: Record<string, string> = {
      Job: 'db:migrate',
      Deployment: 'start:control-plane',
      StatefulSet: 'start:session-node',
    }
    for (const w of workloads) {
      for (const c of containers(w)) {
        expect(c.image, `${w.metadata.name}/${c.name}`).toMatch(/^([\w.-]+(:\d+)?\/)*wa-cluster(:[\w.-]+)?$/)
        expect(c.command, `${w.metadata.name}/${c.name}: keep the image ENTRYPOINT`).toBeUndefined()
        expect(npmScripts.has(scriptOf(c.args)), `${w.metadata.name}: ${c.args}`).toBe(true)
      }
      expect(scriptOf(mainContainer(w).args)).toBe(expected[w.kind])
    }
  })

  it('gives every role the variables it requires', () => {
    const envNames = (w: Json) => [
      ...(mainContainer(w).env ?? []).map((e: Json) => e.name),
      ...(mainContainer(w).envFrom ?? []).flatMap((f: Json) =>
        f.configMapRef ? Object.keys(configMap.data) : [],
      ),
    ]
    expect(envNames(controlPlane)).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'REDIS_URL', 'ADMIN_API_KEY', 'AUTH_STATE_KEY']),
    )
    expect(envNames(sessionNode)).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'REDIS_URL', 'AUTH_STATE_KEY', 'NODE_ID']),
    )
    expect(envNames(ofKind('Job')[0]!)).toContain('DATABASE_URL')
    // Least privilege: the nodes never see the operator key.
    expect(envNames(sessionNode)).not.toContain('ADMIN_API_KEY')
  })

  it('probes /health for liveness and /ready for readiness on the container port', () => {
    for (const w of [controlPlane, sessionNode]) {
      const c = mainContainer(w)
      expect(c.livenessProbe?.httpGet?.path, w.metadata.name).toBe('/health')
      expect(c.readinessProbe?.httpGet?.path, w.metadata.name).toBe('/ready')
      const portNames = (c.ports as Json[]).map((p) => p.name)
      const portNumbers = (c.ports as Json[]).map((p) => p.containerPort)
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
        const port = probe.httpGet.port
        expect(typeof port === 'string' ? portNames : portNumbers).toContain(port)
      }
      const portEnv = (c.env as Json[]).find((e) => e.name === 'PORT')?.value ?? configMap.data.PORT ?? '8080'
      expect(portNumbers).toContain(Number(portEnv))
      expect(c.resources?.requests && c.resources?.limits, `${w.metadata.name} resources`).toBeTruthy()
    }
    expect(controlPlane.spec.replicas).toBe(2)
  })

  it('control-plane: metrics on METRICS_PORT, scraped there, and not behind the Service', () => {
    const c = mainContainer(controlPlane)
    const metricsPort = (c.env as Json[]).find((e) => e.name === 'METRICS_PORT')?.value
    expect(metricsPort).toMatch(/^\d+$/)
    expect((c.ports as Json[]).map((p) => p.containerPort)).toContain(Number(metricsPort))
    const annotations = controlPlane.spec.template.metadata.annotations
    expect(annotations['prometheus.io/port']).toBe(metricsPort)
    expect(annotations['prometheus.io/path']).toBe('/metrics')
    const service = one('Service', 'wa-control-plane')
    const metricsName = (c.ports as Json[]).find((p) => p.containerPort === Number(metricsPort))?.name
    for (const p of service.spec.ports) expect([metricsName, Number(metricsPort)]).not.toContain(p.targetPort)
    expect(configMap.data.HOST).toBe('0.0.0.0')
  })

  it('session-node: stable NODE_ID from the pod name, grace period above the lease TTL, headless Service, PDB', () => {
    const c = mainContainer(sessionNode)
    const nodeId = (c.env as Json[]).find((e) => e.name === 'NODE_ID')
    expect(nodeId?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name')
    const leaseMs = Number(configMap.data.LEASE_TTL_MS ?? defaultLeaseTtlMs)
    const grace = podSpec(sessionNode).terminationGracePeriodSeconds
    expect(grace).toBe(60)
    expect(grace).toBeGreaterThan(leaseMs / 1000)
    // Heartbeats must fit several times in the node TTL, or a healthy node looks dead.
    expect(Number(configMap.data.NODE_TTL_MS)).toBeGreaterThanOrEqual(
      3 * Number(configMap.data.HEARTBEAT_INTERVAL_MS),
    )

    const labels = sessionNode.spec.template.metadata.labels
    for (const [k, v] of Object.entries(sessionNode.spec.selector.matchLabels)) expect(labels[k]).toBe(v)
    const governing = one('Service', sessionNode.spec.serviceName)
    expect(governing.spec.clusterIP).toBe('None')
    for (const [k, v] of Object.entries(governing.spec.selector)) expect(labels[k]).toBe(v)

    const pdb = ofKind('PodDisruptionBudget').find((p) =>
      Object.entries(p.spec.selector.matchLabels).every(([k, v]) => labels[k] === v),
    )
    expect(pdb, 'a PodDisruptionBudget selecting the session-nodes').toBeDefined()
    expect(pdb!.spec.maxUnavailable).toBe(1)
  })

  it('every Service and controller selector matches its pod template labels', () => {
    for (const w of objects.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))) {
      const labels = w.spec.template.metadata.labels
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels))
        expect(labels[k], w.metadata.name).toBe(v)
    }
    const podLabels = objects
      .filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))
      .map((w) => w.spec.template.metadata.labels)
    for (const svc of ofKind('Service')) {
      const matches = podLabels.some((l) => Object.entries(svc.spec.selector).every(([k, v]) => l[k] === v))
      expect(matches, `Service ${svc.metadata.name} selects some pods`).toBe(true)
      for (const p of svc.spec.ports) {
        if (typeof p.targetPort === 'string') {
          const names = objects
            .filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))
            .flatMap((w) => containers(w).flatMap((c) => (c.ports ?? []).map((cp: Json) => cp.name)))
          expect(names).toContain(p.targetPort)
        }
      }
    }
  })

  it('runs every container as non-root', () => {
    for (const w of workloads) {
      expect(podSpec(w).securityContext?.runAsNonRoot, w.metadata.name).toBe(true)
    }
  })
})
