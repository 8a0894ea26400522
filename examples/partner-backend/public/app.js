// The partner's page: get a token from OUR back-end (never from Conclave directly), then use
// the browser SDK. Signing in is faked with a header here.
import { Session } from '/conclave.js';

document.getElementById('join').addEventListener('submit', async (event) => {
  event.preventDefault();
  const user = document.getElementById('user').value;
  const room = document.getElementById('room').value;
  const response = await fetch('/api/video-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-demo-user': user },
    body: JSON.stringify({ room }),
  });
  const { token, sessionId, conclaveUrl } = await response.json();
  const session = await Session.connect(conclaveUrl, token, { sessionId });
  session.on('streamCreated', (stream) => {
    session
      .subscribe(stream)
      .then((subscriber) => document.getElementById('videos').append(subscriber.element));
  });
  if (session.grants.includes('publish')) await session.publish({ audio: true, video: true, name: user });
});
