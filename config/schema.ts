import { z } from 'zod';
import { ResourceName } from '../common/names';
import { KubernetesAccess, ObjectName } from './kubernetesSchema';
import { NodeConfig } from './nodeSchema';
import * as automation from './automationSchema';

// A secret is never written in the config itself: it names where to read it.
// value: exists for the embedded dev default (guest/guest) and tests only.
export const SecretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|value:.*)$/, 'must be a reference: env:NAME, file:PATH or value:TEXT');
export type SecretRef = z.infer<typeof SecretRef>;

// A URL ends up in failure messages and so in workflow history: credentials
// never go into one, they go into the username/password secret references.
function noCredentials(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username === '' && parsed.password === '';
  } catch {
    return true;
  }
}
function urlWithoutCredentials(protocol: RegExp, where: string) {
  return z.url({ protocol, error: 'Invalid url' }).refine(noCredentials, `must not contain credentials (user:password@): ${where}`);
}
const RABBIT_CREDENTIALS = 'put the user in the username field beside url and the password in password (a secret reference: env:NAME or file:PATH)';
const httpUrl = urlWithoutCredentials(/^https?$/, RABBIT_CREDENTIALS);
const s3Endpoint = urlWithoutCredentials(/^https?$/, 'put them in accessKeyId and secretAccessKey (secret references: env:NAME or file:PATH)');

const TemporalConfig = z
  .object({
    address: z.string().min(1).default('127.0.0.1:7233'),
    namespace: z.string().min(1).default('default'),
    taskQueue: z.string().min(1).default('rabbitvault'),
    webUiUrl: urlWithoutCredentials(/^https?$/, 'it is a link printed for people').default('http://127.0.0.1:8233'),
    tls: z
      .object({
        serverName: z.string().optional(),
        caFile: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
      })
      .strict()
      .optional(),
    apiKey: SecretRef.optional(),
  })
  .strict();

// Client-side encryption of every artifact a target stores (docs/encryption.md).
// Keys are secret references, resolved on the worker only.
const OpenpgpEncryption = z
  .object({
    type: z.literal('openpgp'),
    // Armored public keys new sets are encrypted for: any one of them opens a set.
    recipients: z.array(SecretRef).min(1),
    // Armored private keys that open sets (the current one and rotated-out ones);
    // a worker that only backs up may have none.
    decryptionKeys: z.array(z.object({ key: SecretRef, passphrase: SecretRef.optional() }).strict()).default([]),
    // Sets written before encryption was turned on; otherwise a set stored in plaintext is refused (a downgrade).
    allowPlaintextSets: z.boolean().default(false),
    // Public keys are not secret: with a signing key each manifest gets a detached
    // signature (manifest.json.sig) and a set nobody holding a trusted key signed is refused.
    signingKey: z.object({ key: SecretRef, passphrase: SecretRef.optional() }).strict().optional(),
    // Public keys of earlier signing keys whose signatures are still trusted (rotation).
    verificationKeys: z.array(SecretRef).default([]),
  })
  .strict();

const AesGcmEncryption = z
  .object({
    type: z.literal('aes-gcm'),
    // 32 bytes as 64 hex digits or base64, e.g. env:RABBITVAULT_BACKUP_KEY.
    key: SecretRef,
    // Keys of earlier rotations: they still open the sets sealed with them.
    previousKeys: z.array(SecretRef).default([]),
    allowPlaintextSets: z.boolean().default(false),
  })
  .strict();

export const ArtifactEncryption = z.discriminatedUnion('type', [OpenpgpEncryption, AesGcmEncryption]);
export type ArtifactEncryption = z.infer<typeof ArtifactEncryption>;

const LocalStorage = z
  .object({
    type: z.literal('local'),
    path: z.string().min(1),
    // restic repository password (data-directory backups with method restic): a secret reference.
    resticPassword: SecretRef.optional(),
    encryption: ArtifactEncryption.optional(),
  })
  .strict();

const S3Storage = z
  .object({
    type: z.literal('s3'),
    bucket: z.string().min(3),
    prefix: z.string().default(''),
    region: z.string().default('us-east-1'),
    endpoint: s3Endpoint.optional(),
    forcePathStyle: z.boolean().default(false),
    accessKeyId: SecretRef.optional(),
    secretAccessKey: SecretRef.optional(),
    serverSideEncryption: z.enum(['AES256', 'aws:kms']).optional(),
    kmsKeyId: z.string().optional(),
    // lib-storage keeps about queueSize+1 parts in memory per upload: keep parts modest.
    partSizeMiB: z.number().int().min(5).max(64).default(16),
    // restic repository password (data-directory backups with method restic): a secret reference.
    resticPassword: SecretRef.optional(),
    encryption: ArtifactEncryption.optional(),
  })
  .strict();

export const StorageTarget = z.discriminatedUnion('type', [LocalStorage, S3Storage]);
export type StorageTarget = z.infer<typeof StorageTarget>;
export type S3StorageTarget = z.infer<typeof S3Storage>;

// One URL, or one per node of a cluster: tried in order, the next one when a
// node does not answer (lib/rabbitmq/endpoints.ts).
const urlOrList = (url: z.ZodType<string>) => z.union([url, z.array(url).min(1, 'must list at least one URL').max(32)]);

// The Service in front of a cluster's pods on Kubernetes, as `kubectl
// port-forward service/NAME PORT` names it (config/kubernetesSchema.ts).
const ManagementService = z
  .object({
    name: ObjectName,
    // The Service's port (number or port name), mapped to the pod's port through its EndpointSlices.
    port: z.union([z.number().int().min(1).max(65535), z.string().regex(/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/, 'must be a port number or a Service port name')]).default(15672),
    namespace: ObjectName.optional(),
  })
  .strict();

const ClusterConfig = z
  .object({
    management: z
      .object({
        url: urlOrList(httpUrl).optional(),
        // kubernetes-service: no url; the Service's ready pods are reached
        // through the Kubernetes API server (lib/kubernetes/serviceTunnel.ts).
        via: z.enum(['direct', 'kubernetes-service']).optional(),
        service: ManagementService.optional(),
        username: z.string().min(1),
        password: SecretRef,
        timeoutSeconds: z.number().positive().default(30),
        importTimeoutSeconds: z.number().positive().default(300),
      })
      .strict()
      .superRefine((m, ctx) => {
        const throughKubernetes = m.via === 'kubernetes-service';
        if (throughKubernetes && !m.service) ctx.addIssue({ code: 'custom', path: ['service'], message: 'is needed with via: kubernetes-service (the Service in front of the RabbitMQ pods: name, port)' });
        if (throughKubernetes && m.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'must not be set with via: kubernetes-service (the worker goes through the Kubernetes API server)' });
        if (!throughKubernetes && !m.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'is needed (or via: kubernetes-service with service)' });
        if (!throughKubernetes && m.service) ctx.addIssue({ code: 'custom', path: ['service'], message: 'is read only with via: kubernetes-service' });
      }),
    amqp: z
      .object({
        url: urlOrList(urlWithoutCredentials(/^amqps?$/, RABBIT_CREDENTIALS)),
        username: z.string().min(1).optional(),
        password: SecretRef.optional(),
      })
      .strict()
      .optional(),
    // Nodes whose data directory rabbitvault backs up and restores (config/nodeSchema.ts).
    nodes: z.array(NodeConfig).default([]),
    // A cluster deployed on Kubernetes with the Helm chart: its ConfigMap, Secret, PVCs and Helm release (config/kubernetesSchema.ts).
    kubernetes: KubernetesAccess.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // A pod's namespace and kubeconfig default to the cluster's kubernetes section.
    c.nodes.forEach((n, i) => {
      if (n.access.type !== 'kubernetes' || c.kubernetes) return;
      for (const field of ['namespace', 'kubeconfig'] as const) {
        if (n.access[field] === undefined) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'access', field], message: `is needed when the cluster has no kubernetes section (clusters.<name>.kubernetes.${field})` });
      }
    });
  });
export type ClusterConfig = z.infer<typeof ClusterConfig>;

export const RabbitvaultConfig = z
  .object({
    temporal: TemporalConfig.default(TemporalConfig.parse({})),
    storage: z
      .object({
        default: ResourceName,
        targets: z.record(ResourceName, StorageTarget),
      })
      .strict()
      .refine((s) => s.default in s.targets, { message: 'must name one of storage.targets', path: ['default'] }),
    clusters: z.record(ResourceName, ClusterConfig).refine((c) => Object.keys(c).length > 0, 'at least one cluster is needed'),
    // Automation (issue 5, config/automationSchema.ts): all optional, off unless set.
    schedules: automation.SchedulesConfig.default({ backups: {} }),
    retention: automation.RetentionConfig.default(automation.RetentionConfig.parse({})),
    offsite: automation.OffsiteConfig.optional(),
    validation: automation.ValidationConfig.default({ components: {} }),
    drills: automation.DrillsConfig.optional(),
    componentWorkflows: automation.ComponentWorkflows.default({}),
    metrics: automation.MetricsConfig.optional(),
    replication: automation.ReplicationConfig.default({ pairs: [], staleAfterSeconds: 600 }),
  })
  .strict()
  .refine((c) => c.replication.pairs.every((p) => p.source in c.clusters && p.destination in c.clusters && p.source !== p.destination), {
    message: 'every pair must name two different clusters of clusters',
    path: ['replication', 'pairs'],
  })
  .refine((c) => !c.offsite || (c.offsite.target in c.storage.targets && c.offsite.target !== c.storage.default), {
    message: 'must name a storage target other than storage.default',
    path: ['offsite', 'target'],
  });
export type RabbitvaultConfig = z.infer<typeof RabbitvaultConfig>;
