// A Helm-deployed RabbitMQ as the chart and helm leave it in a namespace, on the test stack's kube-apiserver.
import { gzipSync } from 'node:zlib';
import { clientNode } from '../../lib/kubernetes/client';
import { testStack } from './stack';

export async function apis() {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testStack().kubernetes.kubeconfig);
  return { core: kc.makeApiClient(k8s.CoreV1Api), apps: kc.makeApiClient(k8s.AppsV1Api), rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api) };
}
export type TestKubernetes = Awaited<ReturnType<typeof apis>>;

// A Helm 3 release Secret as helm writes it: data.release = base64(gzip(JSON)), which Kubernetes base64s again.
function helmReleaseSecret(namespace: string, revision: number, values: Record<string, unknown>, status: string) {
  const release = { name: 'mq', namespace, version: revision, info: { status, last_deployed: `2026-11-2${revision}T10:00:00Z` }, chart: { metadata: { name: 'rabbitmq', version: `16.0.${revision}`, appVersion: '4.1.3' } }, config: values };
  const helmEncoded = gzipSync(Buffer.from(JSON.stringify(release))).toString('base64');
  return {
    metadata: { name: `sh.helm.release.v1.mq.v${revision}`, labels: { owner: 'helm', name: 'mq', status, version: String(revision) } },
    type: 'helm.sh/release.v1',
    data: { release: Buffer.from(helmEncoded).toString('base64') },
  };
}

// Namespace; ConfigMap, Secret, PVC data-mq-0 and StatefulSet of release "mq"; its Helm revisions 1 (superseded) and 2 (deployed).
export async function createHelmRelease({ core, apps }: Pick<TestKubernetes, 'core' | 'apps'>, namespace: string, o: { conf: string; plugins: string; password: string }): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'mq', labels: { 'app.kubernetes.io/instance': 'mq' } }, data: { 'rabbitmq.conf': o.conf, enabled_plugins: o.plugins } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'mq' }, stringData: { 'rabbitmq-password': o.password, 'rabbitmq-erlang-cookie': 'cookie' } } });
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: { metadata: { name: 'data-mq-0', labels: { 'app.kubernetes.io/instance': 'mq' } }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'standard', resources: { requests: { storage: '8Gi' } } } },
  });
  await apps.createNamespacedStatefulSet({
    namespace,
    body: { metadata: { name: 'mq' }, spec: { serviceName: 'mq', selector: { matchLabels: { app: 'mq' } }, template: { metadata: { labels: { app: 'mq' } }, spec: { containers: [{ name: 'rabbitmq', image: 'rabbitmq:4.1' }] } } } },
  });
  await core.createNamespacedSecret({ namespace, body: helmReleaseSecret(namespace, 1, { replicaCount: 1 }, 'superseded') });
  await core.createNamespacedSecret({ namespace, body: helmReleaseSecret(namespace, 2, { replicaCount: 3, auth: { username: 'admin', existingPasswordSecret: 'mq' } }, 'deployed') });
}
