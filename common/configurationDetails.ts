import { z } from 'zod';
import { ObjectName } from '../config/kubernetesSchema';
import { Artifact, Sha256 } from './manifest';
import { NodeName } from './names';

// What a configuration file is to RabbitMQ (the guide: rabbitmq.conf, enabled_plugins; plus what a host install also reads).
export const ConfigFileKind = z.enum(['rabbitmq.conf', 'conf.d', 'advanced.config', 'enabled_plugins', 'rabbitmq-env.conf']);
export type ConfigFileKind = z.infer<typeof ConfigFileKind>;

// Details come back from backup storage: every field that reaches a shell
// argument (chmod, chown, a path) is strict, so none can become an option.
const AbsolutePath = z
  .string()
  .max(4096)
  .regex(/^\/[^\0]*$/, 'must be an absolute path without NUL')
  .refine((p) => !p.split('/').some((s) => s === '..' || s === '.'), 'must not contain "." or ".." segments');

// Permission bits without setuid/setgid/sticky, and not writable by everyone.
const FileMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'must be octal permission bits like 644 (no setuid, setgid or sticky bit)')
  .refine((m) => (parseInt(m, 8) & 0o002) === 0, 'must not be writable by others');

// A user or group name as useradd allows it, or a numeric id.
const AccountName = z.string().regex(/^([a-z_][a-z0-9_-]{0,31}\$?|\d{1,10})$/, 'must be a user/group name (lowercase letters, digits, "_", "-") or a numeric id');

export const NodeConfigFile = z.object({
  kind: ConfigFileKind,
  // Where the file was on the backed-up node; a restore writes only the path the target node reports for the kind.
  path: AbsolutePath,
  // Octal permission bits, owner and group as the node's host had them ("644", "rabbitmq", "rabbitmq").
  mode: FileMode,
  owner: AccountName,
  group: AccountName,
  artifact: Artifact.shape.name,
  size: z.number().int().nonnegative(),
  sha256: Sha256,
});
export type NodeConfigFile = z.infer<typeof NodeConfigFile>;

// A ConfigMap or Secret key (Kubernetes: letters, digits, "-", "_", ".").
const ObjectKey = z.string().regex(/^[-._a-zA-Z0-9]{1,253}$/, 'must be a ConfigMap/Secret key (letters, digits, "-", "_", ".")');
const Label = z.string().max(1024);

// A Helm-deployed cluster's Kubernetes objects in a configuration set (the guide's kubectl/helm commands).
// Key names only: the values (passwords in the Secret, in rabbitmq.conf) live in the artifacts, never here.
export const KubernetesConfigurationDetails = z.object({
  server: Label,
  namespace: ObjectName,
  release: ObjectName,
  statefulSet: ObjectName,
  configMap: z.object({ name: ObjectName, artifact: Artifact.shape.name, keys: z.array(ObjectKey) }),
  secret: z.object({ name: ObjectName, artifact: Artifact.shape.name, keys: z.array(ObjectKey) }),
  persistentVolumeClaims: z.array(z.object({ name: ObjectName, artifact: Artifact.shape.name, storageClass: Label.nullable(), size: Label.nullable() })),
  helm: z.object({ revision: z.number().int(), chart: Label, appVersion: Label.nullable(), status: Label, valuesArtifact: Artifact.shape.name, chartInfoArtifact: Artifact.shape.name }),
  // ConfigMap keys also stored as files of their own (rabbitmq.conf, enabled_plugins), as the guide extracts them.
  extracted: z.array(z.object({ key: ObjectKey, artifact: Artifact.shape.name })),
});
export type KubernetesConfigurationDetails = z.infer<typeof KubernetesConfigurationDetails>;

// The configuration part of a set's manifest details: one entry per node on a host, and the Kubernetes objects.
export const ConfigurationDetails = z.object({
  nodes: z.array(z.object({ node: NodeName, rabbitmqVersion: Label, files: z.array(NodeConfigFile) })),
  kubernetes: KubernetesConfigurationDetails.optional(),
});
export type ConfigurationDetails = z.infer<typeof ConfigurationDetails>;
