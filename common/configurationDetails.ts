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

// The configuration part of a set's manifest details: one entry per node.
export const ConfigurationDetails = z.object({
  nodes: z.array(z.object({ node: z.string(), rabbitmqVersion: z.string(), files: z.array(NodeConfigFile) })),
});
export type ConfigurationDetails = z.infer<typeof ConfigurationDetails>;
