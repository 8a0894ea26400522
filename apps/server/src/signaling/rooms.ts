/** The rooms live on this node, by session id. A room goes away when its last participant does. */
import type { Session } from '@conclave/protocol/rest';
import type { MediaPlane } from '../media/api.ts';
import type { SignalingLog } from './deps.ts';
import { Room } from './room.ts';

export class Rooms {
  private readonly rooms = new Map<string, Room>();

  constructor(
    private readonly media: MediaPlane | undefined,
    private readonly log: SignalingLog,
  ) {}

  get(sessionId: string): Room | undefined {
    return this.rooms.get(sessionId);
  }

  open(appId: string, session: Session): Room {
    const existing = this.rooms.get(session.id);
    if (existing) return existing;
    const room = new Room(appId, session, this.media, this.log, (closed) => {
      if (this.rooms.get(closed.sessionId) === closed) this.rooms.delete(closed.sessionId);
    });
    this.rooms.set(session.id, room);
    return room;
  }

  get size(): number {
    return this.rooms.size;
  }

  closeAll(): void {
    for (const room of [...this.rooms.values()]) room.close();
  }
}
