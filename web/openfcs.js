// openfcs.js: Flash's NetConnection, NetStream and SharedObject for
// today's browsers, over RTMP carried by a WebSocket (docs/browser.md).
// One ES module per concept; this file re-exports the public API.
// No build step and no dependencies: import it as it is served.

export { NetConnection, NetStatusEvent, AsyncErrorEvent, resolveURI, VERSION } from './netconnection.js';
export { NetStream } from './netstream.js';
export { SharedObject, SyncEvent } from './sharedobject.js';
export {
  AMFError, XMLDocument, XML, Vector, Dictionary, Traits, unsupported, typed, ecma, withTraits,
  amfClass, amfTraits, amfECMA, encodeAMF0, decodeAMF0, encodeAMF3, decodeAMF3,
} from './amf.js';
