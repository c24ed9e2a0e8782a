/**
 * The replica URLs a load balancer would send to: tests remove a replica
 * before stopping it and add its replacement. Each caller gets its own
 * round-robin cursor, starting at a different replica.
 */
export class ReplicaPool {
  private urls: string[];

  constructor(urls: string[]) {
    this.urls = [...urls];
  }

  remove(url: string): void {
    this.urls = this.urls.filter((u) => u !== url);
  }

  add(url: string): void {
    this.urls.push(url);
  }

  /** A picker that starts at replica `start` and moves round-robin on each call. */
  picker(start = 0): () => string {
    let i = start;
    let first = true;
    return () => {
      if (!first) i++;
      first = false;
      return this.urls[i % this.urls.length];
    };
  }
}
