// The documented uses of openfcs.js, type-checked against the hand-written
// web/openfcs.d.ts by TestWebTypes (tsc --strict, no output).
import {
  NetConnection, NetStream, SharedObject, NetStatusEvent, SyncEvent, StatusInfo, Change,
  typed, ecma, Vector, resolveURI, VERSION,
} from '../../../web/openfcs.js';

async function main(canvas: HTMLCanvasElement, video: HTMLVideoElement): Promise<void> {
  const nc = new NetConnection();
  nc.objectEncoding = 0;
  nc.client = { clientAnswer: (q: string) => `the page answers ${q}` };
  nc.addEventListener('netStatus', (e: NetStatusEvent) => console.log(e.info.code, e.info.level));
  nc.addEventListener('asyncError', (e) => console.log(e.error));
  const info: StatusInfo = await nc.connect('rtmp://host/rpc', 'arg', 1);
  const sum = await nc.call<number>('add', 2, 3);
  console.log(info.clientid, sum + 1, nc.connected, nc.protocol, nc.farID, nc.stats.bytesIn, VERSION);
  try {
    await nc.connect('rtmp://host/chat');
  } catch (e) {
    console.log((e as StatusInfo).application);
  }

  const ns = new NetStream(nc);
  ns.client = { onMetaData: (md: Record<string, unknown>) => console.log(md) };
  ns.bufferTime = 0.2;
  ns.attachView(canvas);
  ns.attachView(video);
  ns.play('stream');
  ns.play('vod', 0, -1, false);
  ns.play(false);
  ns.volume = 0.5;
  const analyser = ns.audioContext?.createAnalyser();
  if (analyser) ns.audioNode?.connect(analyser);
  console.log(ns.currentFPS, ns.decodedFrames, ns.time, ns.bufferLength, ns.info.currentBytesPerSecond, ns.info.decoderThread, await ns.ready);
  ns.pause();
  ns.resume();
  ns.seek(10);
  ns.transport = 'auto';
  ns.addEventListener('netStatus', (e: NetStatusEvent) => {
    if (e.info.code === 'NetStream.Transport') console.log(ns.transportInUse, ns.transportReason, e.info.transport);
  });
  const rtc = await ns.rtcStats();
  console.log(rtc?.inboundVideo?.framesDecoded, rtc?.pair);

  const pub = new NetStream(nc);
  const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  pub.attachCamera(media.getVideoTracks()[0], { bitrate: 800_000, keyFrameInterval: 2 });
  pub.attachAudio(media.getAudioTracks()[0], { codec: 'pcma' });
  pub.publish('cam');
  pub.send('onPublishTime', Date.now());
  pub.requestKeyFrame();
  console.log(pub.info.publish?.videoFrames);
  pub.close();

  const so = SharedObject.getRemote('chat', nc.uri ?? '', false);
  so.client = { newLine: (s: string) => console.log(s) };
  so.addEventListener('sync', (e: SyncEvent) => {
    for (const c of e.changeList as Change[]) console.log(c.code, c.name, c.oldValue, so.data[c.name ?? '']);
  });
  await so.connect(nc);
  so.setProperty('point', typed('Point', { x: 1, y: 2 }));
  so.setProperty('meta', ecma({ duration: 1 }));
  so.setProperty('ints', new Vector('int', [1, 2]));
  so.setProperty('gone', null);
  so.send('newLine', 'hello');
  so.close();
  console.log(resolveURI('ws://h:1/app').wsURL);
  nc.close();
}

void main;
