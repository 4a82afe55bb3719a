'use strict'
// A Flash Remoting gateway for the e2e suite (e2e/remoting_test.go). The
// envelope is read and written here from its layout (version, headers,
// messages; docs/remoting.md), and every value by bytearray-node, an AMF0
// implementation independent of the server's, so that the server's codec
// is checked against someone else's.
//
//   node gateway.js   -> first stdout line: "listening <port>" (127.0.0.1)
//                     -> then one JSON line per request:
//                        {path, query, contentType, version, headers:{name: value}, calls:[{target, response, args}]}
//
// POST /gateway services:
//   echo.add(a, b)       a + b
//   echo.echo(x)         x
//   echo.fail()          onStatus {level, code: "Server.Processing", description: "deliberate failure", type}
//   auth.whoami()        the Credentials header's userid when the password is "secret", else onStatus Client.Authentication
//   session.start()      "started", with an AppendToGatewayUrl "?session=s1" header
//   session.query()      the query string of the request URL
//   anything else        onStatus Server.ResourceNotFound
// POST /broken answers 500.

// bytearray-node loads lzma-native (a native addon) for compression this
// gateway does not use; it is installed with --ignore-scripts, so a stub
// stands in for it (as in amf/interop).
const lzmaPath = require.resolve('lzma-native')
require.cache[lzmaPath] = {
  id: lzmaPath,
  filename: lzmaPath,
  loaded: true,
  exports: { LZMA () { throw new Error('LZMA is not available') } }
}

const http = require('http')
const ByteArray = require('bytearray-node')
const { ObjectEncoding } = require('bytearray-node/enums/')

const UNKNOWN = 0xFFFFFFFF

function amf0 (buf) {
  const ba = new ByteArray(buf)
  ba.objectEncoding = ObjectEncoding.AMF0
  return ba
}

// readAny reads one AMF0 value. bytearray-node's AMF0 codec (amf0-ts) has
// no strict array, the container of a call's arguments: its marker and
// count are read here, every element by bytearray-node.
function readAny (ba) {
  if (ba.bytesAvailable > 0 && ba.buffer[ba.position] === 0x0a) {
    ba.position += 1
    const out = []
    for (let n = ba.readUnsignedInt(); n > 0; n--) out.push(readAny(ba))
    return out
  }
  return ba.readObject()
}

// readValue reads a declared length and the AMF0 value; a measured
// length must match the value.
function readValue (ba, what) {
  const len = ba.readUnsignedInt()
  const start = ba.position
  const value = readAny(ba)
  if (len !== UNKNOWN && ba.position - start !== len) {
    throw new Error(`${what}: declared ${len} bytes, value has ${ba.position - start}`)
  }
  return value
}

function readPacket (buf) {
  const ba = amf0(buf)
  const version = ba.readUnsignedShort()
  const headers = []
  for (let n = ba.readUnsignedShort(); n > 0; n--) {
    const name = ba.readUTF()
    const mustUnderstand = ba.readBoolean()
    headers.push({ name, mustUnderstand, value: readValue(ba, `header ${name}`) })
  }
  const messages = []
  for (let n = ba.readUnsignedShort(); n > 0; n--) {
    const target = ba.readUTF()
    const response = ba.readUTF()
    messages.push({ target, response, value: readValue(ba, `message ${target}`) })
  }
  if (ba.bytesAvailable !== 0) throw new Error(`${ba.bytesAvailable} bytes after the last message`)
  return { version, headers, messages }
}

function writeValue (ba, value) {
  const v = amf0(Buffer.alloc(0))
  v.writeObject(value)
  ba.writeUnsignedInt(v.length)
  ba.writeBytes(v)
}

function writePacket (version, headers, messages) {
  const ba = amf0(Buffer.alloc(0))
  ba.writeUnsignedShort(version)
  ba.writeUnsignedShort(headers.length)
  for (const h of headers) {
    ba.writeUTF(h.name)
    ba.writeBoolean(!!h.mustUnderstand)
    writeValue(ba, h.value)
  }
  ba.writeUnsignedShort(messages.length)
  for (const m of messages) {
    ba.writeUTF(m.target)
    ba.writeUTF(m.response)
    writeValue(ba, m.value)
  }
  return ba.buffer.subarray(0, ba.length)
}

function status (code, description) {
  return { level: 'error', code, description, details: '', type: 'gateway' }
}

function serve (req, url, pkt) {
  const headers = {}
  for (const h of pkt.headers) headers[h.name] = h.value
  const outHeaders = []
  const answers = []
  for (const m of pkt.messages) {
    const args = Array.isArray(m.value) ? m.value : []
    let outcome = 'onResult'
    let value = null
    switch (m.target) {
      case 'echo.add': value = args[0] + args[1]; break
      case 'echo.echo': value = args[0]; break
      case 'echo.fail': outcome = 'onStatus'; value = status('Server.Processing', 'deliberate failure'); break
      case 'auth.whoami': {
        const c = headers.Credentials
        if (c && c.password === 'secret') {
          value = c.userid
        } else {
          outcome = 'onStatus'
          value = status('Client.Authentication', 'bad credentials')
        }
        break
      }
      case 'session.start':
        outHeaders.push({ name: 'AppendToGatewayUrl', mustUnderstand: false, value: '?session=s1' })
        value = 'started'
        break
      case 'session.query': value = url.search.replace(/^\?/, ''); break
      default: outcome = 'onStatus'; value = status('Server.ResourceNotFound', `no service ${m.target}`)
    }
    answers.push({ target: `${m.response}/${outcome}`, response: 'null', value })
  }
  return writePacket(pkt.version, outHeaders, answers)
}

const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const url = new URL(req.url, 'http://gateway')
    const body = Buffer.concat(chunks)
    let pkt
    try {
      pkt = readPacket(body)
    } catch (e) {
      console.log(JSON.stringify({ path: url.pathname, error: String(e) }))
      res.writeHead(400)
      res.end(String(e))
      return
    }
    const headers = {}
    for (const h of pkt.headers) headers[h.name] = h.value
    console.log(JSON.stringify({
      path: url.pathname,
      query: url.search,
      contentType: req.headers['content-type'],
      version: pkt.version,
      headers,
      calls: pkt.messages.map((m) => ({ target: m.target, response: m.response, args: m.value }))
    }))
    if (req.method !== 'POST' || url.pathname === '/broken') {
      res.writeHead(500)
      res.end('broken on purpose')
      return
    }
    const out = serve(req, url, pkt)
    res.writeHead(200, { 'Content-Type': 'application/x-amf', 'Content-Length': out.length })
    res.end(out)
  })
})

server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
