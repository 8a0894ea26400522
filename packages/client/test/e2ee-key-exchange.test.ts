/**
 * The E2EE key exchange in Node: participants wired through an in-memory "server" that relays
 * (and, in some tests, tampers with) the reserved signals, as the real server could.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyExchange } from '../src/e2ee/key-exchange.ts';

const SESSION = 'ses_test';

interface Party {
  id: string;
  exchange: KeyExchange;
  keys: { from: string; keyId: number; material: Uint8Array }[];
  acks: { from: string; keyId: number }[];
  rejected: string[];
  established: string[];
}

type Relay = (from: string, to: string, data: string) => { to: string; data: string } | null;

async function parties(secrets: Record<string, string>, relay: Relay = (_f, to, data) => ({ to, data })) {
  const all = new Map<string, Party>();
  const inFlight: Promise<void>[] = [];
  for (const [id, secret] of Object.entries(secrets)) {
    const party: Party = { id, keys: [], acks: [], rejected: [], established: [] } as unknown as Party;
    party.exchange = await KeyExchange.create({
      selfId: id,
      sessionId: SESSION,
      sharedSecret: secret,
      handlers: {
        send: async (to, data) => {
          const relayed = relay(id, to, data);
          if (relayed) inFlight.push(all.get(relayed.to)!.exchange.onSignal(id, relayed.data));
        },
        established: (peer) => party.established.push(peer),
        key: (from, keyId, material) => party.keys.push({ from, keyId, material }),
        ack: (from, keyId) => party.acks.push({ from, keyId }),
        rejected: (from) => party.rejected.push(from),
      },
    });
    all.set(id, party);
  }
  const settle = async () => {
    while (inFlight.length > 0) await Promise.all(inFlight.splice(0));
  };
  return { all, settle };
}

async function introduceAll(all: Map<string, Party>): Promise<void> {
  for (const p of all.values()) {
    for (const other of all.keys()) if (other !== p.id) await p.exchange.introduce(other);
  }
}

describe('E2EE key exchange', () => {
  it('participants with the same secret establish channels and pass media keys and acks', async () => {
    const { all, settle } = await parties({ con_a: 's3cret', con_b: 's3cret' });
    const a = all.get('con_a')!;
    const b = all.get('con_b')!;
    await a.exchange.introduce('con_b');
    await b.exchange.introduce('con_a');
    await settle();
    assert.deepEqual(a.established, ['con_b']);
    assert.deepEqual(b.established, ['con_a']);
    const material = crypto.getRandomValues(new Uint8Array(32));
    await a.exchange.sendKey('con_b', 7, material);
    await settle();
    assert.equal(b.keys.length, 1);
    assert.equal(b.keys[0]!.keyId, 7);
    assert.deepEqual(b.keys[0]!.material, material);
    await b.exchange.sendAck('con_a', 7);
    await settle();
    assert.deepEqual(a.acks, [{ from: 'con_b', keyId: 7 }]);
    assert.deepEqual([...a.rejected, ...b.rejected], []);
  });

  it('one side introducing itself is enough (the other answers the hello)', async () => {
    const { all, settle } = await parties({ con_a: 'x', con_b: 'x' });
    await all.get('con_b')!.exchange.introduce('con_a');
    await settle();
    assert.ok(all.get('con_a')!.exchange.isEstablished('con_b'));
    assert.ok(all.get('con_b')!.exchange.isEstablished('con_a'));
  });

  it('a participant with a wrong secret establishes nothing and its messages are rejected', async () => {
    const { all, settle } = await parties({ con_a: 'right', con_b: 'right', con_m: 'wrong' });
    await introduceAll(all);
    await settle();
    assert.ok(all.get('con_a')!.exchange.isEstablished('con_b'));
    assert.equal(all.get('con_a')!.exchange.isEstablished('con_m'), false);
    assert.equal(all.get('con_m')!.exchange.isEstablished('con_a'), false);
    assert.ok(all.get('con_a')!.rejected.includes('con_m'));
    assert.ok(all.get('con_m')!.rejected.includes('con_a'));
  });

  it('the relaying server can neither alter a key message nor redirect one to someone else', async () => {
    let tamper = false;
    const { all, settle } = await parties({ con_a: 'k', con_b: 'k', con_c: 'k' }, (_from, to, data) => {
      if (!tamper) return { to, data };
      const envelope = JSON.parse(data);
      if (envelope.k !== 'key') return { to, data };
      if (to === 'con_b') {
        const ct = Buffer.from(envelope.ct, 'base64');
        ct[3]! ^= 1;
        return { to, data: JSON.stringify({ ...envelope, ct: ct.toString('base64') }) };
      }
      return { to: 'con_b', data }; // the key meant for con_c, handed to con_b instead
    });
    await introduceAll(all);
    await settle();
    tamper = true;
    const a = all.get('con_a')!;
    await a.exchange.sendKey('con_b', 1, new Uint8Array(32).fill(1));
    await a.exchange.sendKey('con_c', 1, new Uint8Array(32).fill(2));
    await settle();
    const b = all.get('con_b')!;
    assert.deepEqual(b.keys, [], 'con_b accepted no key');
    assert.deepEqual(b.rejected, ['con_a', 'con_a']);
  });

  it('garbage in the reserved signal is rejected without throwing', async () => {
    const { all } = await parties({ con_a: 'k' });
    const a = all.get('con_a')!;
    for (const data of [
      '',
      'null',
      '{"v":1,"k":"hello","iv":"AAAA","ct":"AAAA"}',
      '[]',
      'x'.repeat(10_000),
    ]) {
      await a.exchange.onSignal('con_z', data);
    }
    assert.equal(a.rejected.length, 5);
  });
});
