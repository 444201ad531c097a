/**
 * Coalesces calls into batches: the items handed in while a write is in flight go together in
 * the next one (no linger: a lone item is written at once, alone), so that under load one round
 * trip carries many. Each call settles with its batch: resolved when the write succeeded,
 * rejected with its error when it failed.
 */
export function coalesced<T>(
  write: (items: readonly T[]) => Promise<void>,
): (item: T) => Promise<void> {
  let queued: { item: T; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let writing = false;
  const drain = async () => {
    writing = true;
    try {
      while (queued.length > 0) {
        const batch = queued;
        queued = [];
        try {
          await write(batch.map((q) => q.item));
          for (const q of batch) q.resolve();
        } catch (error) {
          for (const q of batch) q.reject(error);
        }
      }
    } finally {
      writing = false;
    }
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      queued.push({ item, resolve, reject });
      if (!writing) void drain();
    });
}
