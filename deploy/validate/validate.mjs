// Checks the Kubernetes manifests in deploy/ (the resources and generated
// ConfigMaps named by deploy/kustomization.yaml):
//   1. every object against the Kubernetes API schema of its kind
//      (kubernetes-models, the OpenAPI schemas of Kubernetes 1.2x);
//   2. references between objects: volumes name a defined ConfigMap, Secret
//      or PersistentVolumeClaim, mounts name a volume, a file flag under a
//      ConfigMap/Secret mount names a key it holds, Services, PDBs and
//      NetworkPolicies select a pod template, named target ports exist,
//      the HPA scales a defined Deployment;
//   3. the project's rules: every container sets resource requests and
//      limits and runs as non-root; long-running pods have readiness and
//      liveness probes.
// Usage: node deploy/validate/validate.mjs   (exit 1 and one line per error)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const errors = [];
const fail = (where, message) => errors.push(`${where}: ${message}`);

function readYamlDocs(file) {
  const text = fs.readFileSync(path.join(deployDir, file), "utf8");
  const docs = [];
  YAML.parseAllDocuments(text).forEach((doc, i) => {
    for (const e of doc.errors) fail(`${file} document ${i + 1}`, e.message);
    const value = doc.toJS();
    if (value !== null && value !== undefined) docs.push({ where: `${file} document ${i + 1}`, value });
  });
  return docs;
}

async function schemaCheck(where, obj) {
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    fail(where, "apiVersion and kind are required");
    return;
  }
  const modulePath = apiVersion.includes("/") ? `${apiVersion}/${kind}` : `${apiVersion}/${kind}`;
  let Model;
  try {
    Model = (await import(`kubernetes-models/${modulePath}`))[kind];
  } catch {
    fail(where, `unknown kind ${apiVersion} ${kind}`);
    return;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    fail(where, `${kind} ${obj.metadata?.name}: ${e.message}`);
  }
}

const kustomization = readYamlDocs("kustomization.yaml")[0]?.value ?? {};
const objects = [];
for (const file of kustomization.resources ?? []) {
  if (!fs.existsSync(path.join(deployDir, file))) {
    fail("kustomization.yaml", `resource ${file} does not exist`);
    continue;
  }
  objects.push(...readYamlDocs(file));
}
// Generated ConfigMaps: one key per file.
const configMaps = new Map();
for (const gen of kustomization.configMapGenerator ?? []) {
  const keys = new Set();
  for (const file of gen.files ?? []) {
    if (!fs.existsSync(path.join(deployDir, file))) fail("kustomization.yaml", `configMapGenerator file ${file} does not exist`);
    keys.add(path.basename(file));
  }
  configMaps.set(gen.name, keys);
}

for (const { where, value } of objects) await schemaCheck(where, value);

const named = (kind) => new Map(objects.filter((o) => o.value.kind === kind).map((o) => [o.value.metadata?.name, o]));
const secrets = named("Secret");
const claims = named("PersistentVolumeClaim");
const deployments = named("Deployment");
for (const [name, { value }] of named("ConfigMap")) configMaps.set(name, new Set(Object.keys(value.data ?? {})));
const secretKeys = (name) => {
  const s = secrets.get(name)?.value;
  return new Set([...Object.keys(s?.data ?? {}), ...Object.keys(s?.stringData ?? {})]);
};

// Pod templates of workloads: [where, kind, template, extra claim names].
const pods = [];
for (const { where, value } of objects) {
  const spec = value.spec ?? {};
  if (["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(value.kind)) {
    const templates = (spec.volumeClaimTemplates ?? []).map((t) => t.metadata?.name);
    pods.push({ where, kind: value.kind, template: spec.template ?? {}, claimTemplates: templates });
  } else if (value.kind === "CronJob") {
    pods.push({ where, kind: value.kind, template: spec.jobTemplate?.spec?.template ?? {}, claimTemplates: [] });
  }
}
const longRunning = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

function matches(selector, labels) {
  const want = selector?.matchLabels ?? {};
  return Object.keys(want).length > 0 && Object.entries(want).every(([k, v]) => labels?.[k] === v);
}

for (const { where, kind, template, claimTemplates } of pods) {
  const podSpec = template.spec ?? {};
  const volumes = new Map((podSpec.volumes ?? []).map((v) => [v.name, v]));
  for (const v of volumes.values()) {
    if (v.configMap && !configMaps.has(v.configMap.name)) fail(where, `volume ${v.name}: ConfigMap ${v.configMap.name} is not defined`);
    if (v.secret && !secrets.has(v.secret.secretName)) fail(where, `volume ${v.name}: Secret ${v.secret.secretName} is not defined`);
    if (v.persistentVolumeClaim && !claims.has(v.persistentVolumeClaim.claimName)) {
      fail(where, `volume ${v.name}: PersistentVolumeClaim ${v.persistentVolumeClaim.claimName} is not defined`);
    }
  }
  const podNonRoot = podSpec.securityContext?.runAsNonRoot === true;
  for (const c of [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])]) {
    const at = `${where} container ${c.name}`;
    for (const r of ["requests", "limits"]) {
      for (const q of ["cpu", "memory"]) if (!c.resources?.[r]?.[q]) fail(at, `resources.${r}.${q} is not set`);
    }
    if (!(podNonRoot || c.securityContext?.runAsNonRoot === true)) fail(at, "does not run as non-root (runAsNonRoot)");
    if (c.securityContext?.allowPrivilegeEscalation !== false) fail(at, "allowPrivilegeEscalation must be false");
    if (longRunning.has(kind) && (podSpec.containers ?? []).includes(c)) {
      if (!c.readinessProbe) fail(at, "has no readinessProbe");
      if (!c.livenessProbe) fail(at, "has no livenessProbe");
    }
    // Mounts name a volume; files named under a ConfigMap/Secret mount exist.
    const mounts = [];
    for (const m of c.volumeMounts ?? []) {
      const v = volumes.get(m.name);
      if (!v && !claimTemplates.includes(m.name)) {
        fail(at, `volumeMount ${m.name} names no volume`);
        continue;
      }
      if (v?.configMap) mounts.push({ dir: m.mountPath, keys: configMaps.get(v.configMap.name), what: `ConfigMap ${v.configMap.name}` });
      if (v?.secret) mounts.push({ dir: m.mountPath, keys: secretKeys(v.secret.secretName), what: `Secret ${v.secret.secretName}` });
    }
    for (const word of [...(c.command ?? []), ...(c.args ?? [])].flatMap((a) => String(a).match(/\/[\w.\/-]+/g) ?? [])) {
      for (const { dir, keys, what } of mounts) {
        if (!keys || !word.startsWith(dir + "/")) continue;
        const key = word.slice(dir.length + 1);
        if (!keys.has(key)) fail(at, `${word}: ${what} has no key ${key}`);
      }
    }
  }
}

const podLabels = pods.map((p) => p.template.metadata?.labels ?? {});
const containerPorts = new Set(pods.flatMap((p) => (p.template.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((port) => port.name))));
for (const { where, value } of objects) {
  const spec = value.spec ?? {};
  if (value.kind === "Service") {
    if (!podLabels.some((l) => matches({ matchLabels: spec.selector }, l))) fail(where, `Service ${value.metadata.name} selects no pod template`);
    for (const p of spec.ports ?? []) {
      if (typeof p.targetPort === "string" && !containerPorts.has(p.targetPort)) fail(where, `Service port ${p.name}: no container port named ${p.targetPort}`);
    }
  }
  if (["PodDisruptionBudget", "NetworkPolicy"].includes(value.kind)) {
    const selector = value.kind === "NetworkPolicy" ? spec.podSelector : spec.selector;
    if (!podLabels.some((l) => matches(selector, l))) fail(where, `${value.kind} ${value.metadata.name} selects no pod template`);
  }
  if (value.kind === "HorizontalPodAutoscaler") {
    const target = spec.scaleTargetRef ?? {};
    if (target.kind !== "Deployment" || !deployments.has(target.name)) fail(where, `HPA scales ${target.kind} ${target.name}, which is not defined`);
  }
}

if (errors.length > 0) {
  for (const e of errors) console.error(e);
  console.error(`deploy: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`deploy: ${objects.length} objects in ${(kustomization.resources ?? []).length} files and ${configMaps.size} generated ConfigMap(s) valid`);
