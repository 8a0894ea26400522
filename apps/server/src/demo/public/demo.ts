/**
 * The demo meeting page: join a room by name, see and hear everyone, toggle camera and
 * microphone, share the screen. Tokens come from the development-only endpoint; a partner's
 * page gets them from its own back-end instead.
 */
import { ConclaveClientError, type Publisher, Session, type StreamInfo } from '@conclave/client';

interface DevToken {
  token: string;
  sessionId: string;
  identity: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let session: Session | null = null;
let camera: Publisher | null = null;
let screen: Publisher | null = null;

async function fetchToken(room: string, name: string, identity?: string): Promise<DevToken> {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ room, name, ...(identity ? { identity } : {}) }),
  });
  const body = (await response.json()) as DevToken | { error: { message: string } };
  if ('error' in body) throw new Error(body.error.message);
  return body;
}

function status(text: string, isError = false): void {
  const el = $('status');
  el.textContent = text;
  el.className = isError ? 'error' : '';
}

function displayName(connectionData: string | undefined): string {
  try {
    const parsed = JSON.parse(connectionData ?? '') as { name?: unknown };
    return typeof parsed.name === 'string' ? parsed.name : 'Guest';
  } catch {
    return 'Guest';
  }
}

/** One tile per participant camera, one per screen share; audio plays from the camera tile. */
function tileFor(key: string, label: string, kind: 'camera' | 'screen' | 'self'): HTMLElement {
  let tile = document.querySelector<HTMLElement>(`[data-tile="${CSS.escape(key)}"]`);
  if (tile) return tile;
  tile = document.createElement('div');
  tile.className = `tile ${kind}`;
  tile.dataset.tile = key;
  const video = document.createElement('video');
  video.autoplay = true;
  video.muted = true;
  video.playsInline = true;
  const caption = document.createElement('span');
  caption.className = 'label';
  caption.textContent = label;
  tile.append(video, caption);
  $('tiles').append(tile);
  return tile;
}

function removeTileIfEmpty(key: string): void {
  const tile = document.querySelector<HTMLElement>(`[data-tile="${CSS.escape(key)}"]`);
  if (tile && !tile.querySelector('audio') && !tile.querySelector('video')?.srcObject) tile.remove();
}

function tileKey(stream: StreamInfo): string {
  return stream.source === 'screen' ? `screen:${stream.streamId}` : `cam:${stream.connectionId}`;
}

async function onStreamCreated(s: Session, stream: StreamInfo): Promise<void> {
  const owner = s.connections.find((c) => c.connectionId === stream.connectionId);
  const name = displayName(owner?.data);
  const tile = tileFor(
    tileKey(stream),
    stream.source === 'screen' ? `${name} (screen)` : name,
    stream.source === 'screen' ? 'screen' : 'camera',
  );
  if (stream.kind === 'video') {
    await s.subscribe(stream, tile.querySelector('video') ?? undefined);
  } else {
    const audio = document.createElement('audio');
    audio.dataset.stream = stream.streamId;
    tile.append(audio);
    await s.subscribe(stream, audio);
  }
}

function onStreamDestroyed(stream: StreamInfo): void {
  const key = tileKey(stream);
  const tile = document.querySelector<HTMLElement>(`[data-tile="${CSS.escape(key)}"]`);
  if (!tile) return;
  if (stream.kind === 'video') {
    const video = tile.querySelector('video');
    if (video) video.srcObject = null;
  } else {
    tile.querySelector(`audio[data-stream="${CSS.escape(stream.streamId)}"]`)?.remove();
  }
  removeTileIfEmpty(key);
}

async function join(room: string, name: string): Promise<void> {
  status('Joining…');
  const first = await fetchToken(room, name);
  const s = await Session.connect(location.origin, first.token, {
    sessionId: first.sessionId,
    onTokenExpiring: async () => (await fetchToken(room, name, first.identity)).token,
  });
  session = s;
  s.on('streamCreated', (stream) => {
    onStreamCreated(s, stream).catch((e: unknown) =>
      status(`Could not receive a stream: ${String(e)}`, true),
    );
  });
  s.on('streamDestroyed', (stream) => onStreamDestroyed(stream));
  s.on('connectionDestroyed', (connection) => removeTileIfEmpty(`cam:${connection.connectionId}`));
  s.on('reconnecting', () => status('Connection lost, reconnecting…'));
  s.on('reconnected', () => status(`In room “${room}”`));
  s.on('disconnected', ({ reason }) => leftCall(reason === 'left' ? '' : `Disconnected (${reason})`));
  s.on('error', (error) => status(error.message, true));
  showCall(room);
  await publishCamera(s, name);
  status(`In room “${room}”`);
}

async function publishCamera(s: Session, name: string): Promise<void> {
  try {
    camera = await s.publish({ audio: true, video: true, name });
  } catch (error) {
    status(`Joined without camera: ${error instanceof Error ? error.message : String(error)}`, true);
    return;
  }
  const tile = tileFor('self', `${name} (you)`, 'self');
  const video = tile.querySelector('video');
  if (video) camera.attach(video);
}

async function toggleScreen(s: Session, name: string): Promise<void> {
  const button = $('toggle-screen');
  if (screen) {
    await screen.unpublish();
    screen = null;
    document.querySelector('[data-tile="self-screen"]')?.remove();
    button.setAttribute('aria-pressed', 'false');
    return;
  }
  screen = await s.publish({ screen: true, name: `${name} (screen)` });
  screen.on('destroyed', () => {
    screen = null;
    document.querySelector('[data-tile="self-screen"]')?.remove();
    button.setAttribute('aria-pressed', 'false');
  });
  const video = tileFor('self-screen', 'Your screen', 'screen').querySelector('video');
  if (video) screen.attach(video);
  button.setAttribute('aria-pressed', 'true');
}

function toggle(button: HTMLElement, on: string, off: string, apply: (enabled: boolean) => void): void {
  const enabled = button.getAttribute('aria-pressed') !== 'true';
  apply(enabled);
  button.setAttribute('aria-pressed', String(enabled));
  button.textContent = enabled ? on : off;
}

function showCall(room: string): void {
  $('join-form').hidden = true;
  $('call').hidden = false;
  $('room-label').textContent = `Room: ${room}`;
}

function leftCall(message: string): void {
  session = null;
  camera = null;
  screen = null;
  $('tiles').replaceChildren();
  $('call').hidden = true;
  $('join-form').hidden = false;
  status(message, message !== '');
}

function wire(): void {
  $('join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const room = $<HTMLInputElement>('room').value.trim();
    const name = $<HTMLInputElement>('name').value.trim();
    join(room, name).catch((error: unknown) => {
      const code = error instanceof ConclaveClientError ? ` (${error.code})` : '';
      leftCall(`Could not join: ${error instanceof Error ? error.message : String(error)}${code}`);
    });
  });
  $('toggle-mic').addEventListener('click', (event) =>
    toggle(event.currentTarget as HTMLElement, 'Microphone on', 'Microphone off', (on) =>
      camera?.publishAudio(on),
    ),
  );
  $('toggle-camera').addEventListener('click', (event) =>
    toggle(event.currentTarget as HTMLElement, 'Camera on', 'Camera off', (on) => camera?.publishVideo(on)),
  );
  $('toggle-screen').addEventListener('click', () => {
    const s = session;
    if (!s) return;
    toggleScreen(s, $<HTMLInputElement>('name').value.trim()).catch((e: unknown) =>
      status(`Screen share failed: ${e instanceof Error ? e.message : String(e)}`, true),
    );
  });
  $('leave').addEventListener('click', () => void session?.disconnect());
  // Audio elements need a user gesture to play in some browsers: any click retries them.
  document.addEventListener('click', () => {
    for (const audio of document.querySelectorAll('audio')) void audio.play().catch(() => undefined);
  });
}

wire();
