import { z } from 'zod';

export const ObjectName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a Kubernetes object name (lowercase letters, digits, "-", ".")');

// How a worker reaches a cluster deployed on Kubernetes with the Helm chart,
// for its configuration backups (the guide's kubectl/helm commands).
export const KubernetesAccess = z
  .object({
    // A kubeconfig file (its credentials stay in it and are read only inside
    // activities), or "in-cluster" for the worker pod's service account.
    kubeconfig: z.string().min(1),
    context: z.string().min(1).optional(),
    namespace: ObjectName,
    // The Helm release ($RELEASE_NAME in the guide).
    release: ObjectName,
    // Object names; each defaults to the release name, as in the guide.
    configMap: ObjectName.optional(),
    secret: ObjectName.optional(),
    statefulSet: ObjectName.optional(),
    // Default: the PVCs labelled app.kubernetes.io/instance=<release>, else one named after the release.
    persistentVolumeClaims: z.array(ObjectName).optional(),
    // The VolumeSnapshotClass of `backup snapshot` (the guide's csi-snapclass).
    volumeSnapshotClass: ObjectName.optional(),
  })
  .strict();
export type KubernetesAccess = z.infer<typeof KubernetesAccess>;
