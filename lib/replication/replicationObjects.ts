// What rabbitvault creates on the brokers for continuous replication (the
// guide's Option B, Option D and Method 4), and how it finds them again: every
// object's name starts with rabbitvault:<source>:<destination>: (":" is not
// allowed in a cluster name, so the pair reads back unambiguously), and
// `replicate stop` removes exactly those.

export type ReplicationMethod = 'shovel' | 'federation';

export const NAME_PREFIX = 'rabbitvault:';
export const pairPrefix = (source: string, destination: string) => `${NAME_PREFIX}${source}:${destination}:`;

// One dynamic shovel per queue, on the source, into the same-named queue of the destination.
export const shovelName = (source: string, destination: string, queue: string) => `${pairPrefix(source, destination)}${queue}`;
// Federation: one upstream (the source) and one policy per vhost, on the destination.
export const upstreamName = (source: string, destination: string) => `${pairPrefix(source, destination)}upstream`;
export const federationPolicyName = (source: string, destination: string) => `${pairPrefix(source, destination)}federation`;

// A URI list (one per node) is passed as a list: the shovel dials the next when one is down.
export function shovelValue(sourceUri: string | string[], destinationUri: string | string[], queue: string): Record<string, unknown> {
  return {
    'src-protocol': 'amqp091',
    'src-uri': sourceUri,
    'src-queue': queue,
    'dest-protocol': 'amqp091',
    'dest-uri': destinationUri,
    'dest-queue': queue,
    // A message leaves the source only once the destination confirmed it.
    'ack-mode': 'on-confirm',
    'src-delete-after': 'never',
  };
}

export function upstreamValue(sourceUri: string | string[]): Record<string, unknown> {
  return { uri: sourceUri, 'ack-mode': 'on-confirm', 'trust-user-id': false };
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Federates exactly the named exchanges of the vhost from the upstream.
export function federationPolicy(upstream: string, exchanges: string[]): Record<string, unknown> {
  return { pattern: `^(${exchanges.map(escapeRegex).join('|')})$`, definition: { 'federation-upstream': upstream }, 'apply-to': 'exchanges', priority: 1 };
}

// Name of the object; one per created thing, for results and `stop`.
export interface ReplicationObject {
  kind: 'shovel' | 'federation-upstream' | 'policy';
  // The cluster it lives on.
  cluster: string;
  vhost: string;
  name: string;
}

export function describeObject(o: ReplicationObject): string {
  return `${o.kind} "${o.name}" in vhost "${o.vhost}" of ${o.cluster}`;
}
