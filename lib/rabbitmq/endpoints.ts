// A cluster's management or AMQP address: one URL, or one per node. Kept
// as the operator wrote it in the config; every reader goes through here.
// None with management.via: kubernetes-service (no URL: the pods are reached through the Kubernetes API).
export function endpointUrls(url: string | readonly string[] | undefined): string[] {
  if (url === undefined) return [];
  return typeof url === 'string' ? [url] : [...url];
}

// What a client that went on through another node says about the ones it
// skipped: "<url>: <reason>", for progress lines and results (no credentials:
// the config refuses them in URLs).
export interface Failover {
  unreachable: string[];
  via: string;
}
