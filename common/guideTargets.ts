import { DEFINITIONS_ARTIFACT } from './backupSetLayout';
import type { Component } from './names';
import { VOLUME_SNAPSHOT_RECORD_ARTIFACT } from './volumeSnapshotDetails';

// The guide's "RTO/RPO Targets" table, in seconds; a drill compares against it.
export const GUIDE_TARGETS: Record<Component | 'full', { scenario: string; rtoSeconds: number; rpoSeconds: number }> = {
  definitions: { scenario: 'Definitions restore', rtoSeconds: 15 * 60, rpoSeconds: 6 * 3600 },
  messages: { scenario: 'Messages restore', rtoSeconds: 2 * 3600, rpoSeconds: 24 * 3600 },
  configuration: { scenario: 'Configuration restore', rtoSeconds: 10 * 60, rpoSeconds: 24 * 3600 },
  'data-directory': { scenario: 'Mnesia database restore', rtoSeconds: 30 * 60, rpoSeconds: 24 * 3600 },
  // Method 2 feeds Recovery 4 (full disaster recovery from a PVC snapshot).
  'volume-snapshot': { scenario: 'Full disaster recovery (PVC snapshot)', rtoSeconds: 3600, rpoSeconds: 24 * 3600 },
  full: { scenario: 'Full disaster recovery', rtoSeconds: 3600, rpoSeconds: 24 * 3600 },
};

// The guide's validation checklist, per component; config may override.
export const DEFAULT_VALIDATION: Record<Component, { minBytes: number; requiredArtifacts: string[] }> = {
  definitions: { minBytes: 64, requiredArtifacts: [DEFINITIONS_ARTIFACT] },
  messages: { minBytes: 1, requiredArtifacts: [] },
  configuration: { minBytes: 1, requiredArtifacts: [] },
  'data-directory': { minBytes: 1, requiredArtifacts: [] },
  'volume-snapshot': { minBytes: 1, requiredArtifacts: [VOLUME_SNAPSHOT_RECORD_ARTIFACT] },
};
