import { z } from 'zod';

// What a configuration file is to RabbitMQ (the guide: rabbitmq.conf, enabled_plugins; plus what a host install also reads).
export const ConfigFileKind = z.enum(['rabbitmq.conf', 'conf.d', 'advanced.config', 'enabled_plugins', 'rabbitmq-env.conf']);
export type ConfigFileKind = z.infer<typeof ConfigFileKind>;

export const NodeConfigFile = z.object({
  kind: ConfigFileKind,
  path: z.string().startsWith('/'),
  // Octal permission bits, owner and group as the node's host had them ("644", "rabbitmq", "rabbitmq").
  mode: z.string().regex(/^[0-7]{3,4}$/),
  owner: z.string(),
  group: z.string(),
  artifact: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string(),
});
export type NodeConfigFile = z.infer<typeof NodeConfigFile>;


// A Helm-deployed cluster's Kubernetes objects in a configuration set (the guide's kubectl/helm commands).
// Key names only: the values (passwords in the Secret, in rabbitmq.conf) live in the artifacts, never here.
export const KubernetesConfigurationDetails = z.object({
  server: z.string(),
  namespace: z.string(),
  release: z.string(),
  statefulSet: z.string(),
  configMap: z.object({ name: z.string(), artifact: z.string(), keys: z.array(z.string()) }),
  secret: z.object({ name: z.string(), artifact: z.string(), keys: z.array(z.string()) }),
  persistentVolumeClaims: z.array(z.object({ name: z.string(), artifact: z.string(), storageClass: z.string().nullable(), size: z.string().nullable() })),
  helm: z.object({ revision: z.number().int(), chart: z.string(), appVersion: z.string().nullable(), status: z.string(), valuesArtifact: z.string(), chartInfoArtifact: z.string() }),
  // ConfigMap keys also stored as files of their own (rabbitmq.conf, enabled_plugins), as the guide extracts them.
  extracted: z.array(z.object({ key: z.string(), artifact: z.string() })),
});
export type KubernetesConfigurationDetails = z.infer<typeof KubernetesConfigurationDetails>;

// The configuration part of a set's manifest details: one entry per node on a host, and the Kubernetes objects.
export const ConfigurationDetails = z.object({
  nodes: z.array(z.object({ node: z.string(), rabbitmqVersion: z.string(), files: z.array(NodeConfigFile) })),
  kubernetes: KubernetesConfigurationDetails.optional(),
});
export type ConfigurationDetails = z.infer<typeof ConfigurationDetails>;
