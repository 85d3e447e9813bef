import { z } from 'zod';

// What `npm test` started, handed to every test process through one env var.
export const TestStackInfo = z.object({
  runDir: z.string(),
  temporalAddress: z.string(),
  workflowBundlePath: z.string(),
  minio: z.object({ endpoint: z.string(), accessKeyId: z.string(), secretAccessKey: z.string() }),
  // A real kube-apiserver (with etcd; no kubelet, no controllers) and a kubeconfig for it.
  // node: the kwok node test pods are placed on (its exec runs commands on this host).
  kubernetes: z.object({ server: z.string(), kubeconfig: z.string(), node: z.string() }),
  // Test files run in lanes side by side (scripts/run-tests.ts). Each lane has its
  // own Temporal namespace (workflow, schedule and lock ids never collide), its own
  // MinIO bucket and its own pair of RabbitMQ nodes; the Kubernetes API server is
  // shared, and files that use it run in lane 1 only.
  lane: z.object({ number: z.number().int().min(1), temporalNamespace: z.string(), bucket: z.string() }),
  nodes: z.array(
    z.object({
      name: z.string(),
      baseDir: z.string(),
      amqpPort: z.number(),
      managementPort: z.number(),
      distPort: z.number(),
    }),
  ),
});
export type TestStackInfo = z.infer<typeof TestStackInfo>;

export const TEST_STACK_ENV = 'RABBITVAULT_TEST_STACK';
