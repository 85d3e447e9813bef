import type { ReplicationLink, ReplicationStatusReport } from './replicationStatus';

// "Seconds since the last transfer": the brokers keep no such time, but each
// link's source queue counts what its consumers took (message_stats). A count
// that moved since the previous recorded check means a transfer happened in
// between; one that stood still keeps the previous check's time. The first
// check of a link cannot know, and says nothing.
type RecordedLink = Pick<ReplicationLink, 'vhost' | 'name' | 'queue' | 'exchange' | 'transferred' | 'lastTransferAt'> & { kind: string };

export function withLastTransfer(report: ReplicationStatusReport, previous: { links: RecordedLink[] } | undefined): ReplicationStatusReport {
  const links = report.links.map((link) => {
    const before = previous?.links.find((p) => p.kind === link.kind && p.vhost === link.vhost && p.name === link.name && p.queue === link.queue && p.exchange === link.exchange);
    if (link.transferred === undefined || before?.transferred === undefined) return link;
    // A count that went down: the queue was deleted and declared again; count it as movement.
    if (link.transferred !== before.transferred) return { ...link, lastTransferAt: report.checkedAt };
    return before.lastTransferAt ? { ...link, lastTransferAt: before.lastTransferAt } : link;
  });
  return { ...report, links };
}

// What a source queue's consumers took so far: acknowledged deliveries (shovels
// and federation links ack on confirm by default), else deliveries.
export function consumedCount(stats: { ack?: unknown; deliver_get?: unknown } | undefined): number | undefined {
  const n = typeof stats?.ack === 'number' ? stats.ack : typeof stats?.deliver_get === 'number' ? stats.deliver_get : undefined;
  return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
