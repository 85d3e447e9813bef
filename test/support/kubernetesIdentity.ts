// A ServiceAccount's own credentials on the test stack's API server (RBAC):
// tests run steps with exactly the rights a Role grants, never system:masters.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { TestKubernetes } from './kubernetesFixtures';
import { scratchDir, testStack } from './stack';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

// ServiceAccount `name` in namespace, bound to a Role with rules (and a
// ClusterRole with clusterRules, for cluster-scoped objects); returns a
// kubeconfig carrying a token of that ServiceAccount (TokenRequest API).
export async function serviceAccountKubeconfig(
  k: TestKubernetes,
  namespace: string,
  name: string,
  rules: PolicyRule[],
  clusterRules: PolicyRule[] = [],
): Promise<string> {
  await k.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const subject = { kind: 'ServiceAccount', name, namespace };
  if (rules.length) {
    await k.rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
    await k.rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [subject] } });
  }
  if (clusterRules.length) {
    const clusterName = `${namespace}-${name}`;
    await k.rbac.createClusterRole({ body: { metadata: { name: clusterName }, rules: clusterRules } });
    await k.rbac.createClusterRoleBinding({ body: { metadata: { name: clusterName }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName }, subjects: [subject] } });
  }
  const token = await k.core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const kc = parse(readFileSync(testStack().kubernetes.kubeconfig, 'utf8')) as { users: Array<{ user: { token: string } }> };
  kc.users[0]!.user.token = token.status!.token;
  const file = path.join(scratchDir('kubeconfig'), `${name}.yaml`);
  writeFileSync(file, stringify(kc), { mode: 0o600 });
  return file;
}
