/**
 * A typed event emitter whose `safeEmit` never lets a listener's exception escape: media events
 * are emitted from IPC and native callbacks, where a throw would take the process down.
 */
import type { Emitter } from './api.ts';

type Listener = (...args: unknown[]) => void;

export class SafeEmitter<Events extends Record<string, unknown[]>> implements Emitter<Events> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();

  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as unknown as Listener);
    return this;
  }

  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    this.#listeners.get(event)?.delete(listener as unknown as Listener);
    return this;
  }

  protected safeEmit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        console.error(`media: a '${String(event)}' listener threw`, error);
      }
    }
  }

  protected removeAllListeners(): void {
    this.#listeners.clear();
  }
}
