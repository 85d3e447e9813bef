import { z } from 'zod';

// archive: one compressed tar per node in the backup set. restic: an
// incremental, deduplicated, encrypted snapshot in the storage target's restic repository.
// Both a backup's input and what its manifest records.
export const DataDirectoryMethod = z.enum(['archive', 'restic']);
export type DataDirectoryMethod = z.infer<typeof DataDirectoryMethod>;
