'use strict';
// Round trip through kafkajs, driven by Strom's compat tests.
//
// Usage: node kafkajs_roundtrip.js BOOTSTRAP TOPIC CODEC COUNT
// (NODE_PATH must point at the node_modules that scripts/test-deps.sh fills)
//
// Reads records as JSON lines on stdin ({"k": hex, "v": hex, "h": [[key,
// hex], ...]}), produces them to TOPIC (acks=-1, CODEC compression, kafkajs'
// default key partitioner), then consumes COUNT records in a fresh consumer
// group from the beginning and prints them as JSON lines on stdout with "p"
// (partition) and "o" (offset) added. kafkajs logs go to stderr.
//
// Exit status: 0 on success, 77 when the npm package the codec needs is
// missing (stderr names it), 1 on any other failure.

const SKIP = 77;
const SEND_CHUNK = 500; // records per producer.send call

function load(name) {
  try {
    return require(name);
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND') return null;
    throw e;
  }
}

// registerCodec installs the npm codec CODEC needs into kafkajs, returning
// the missing package's name when it cannot.
function registerCodec(kafkajs, codec) {
  const { CompressionTypes, CompressionCodecs } = kafkajs;
  switch (codec) {
    case 'snappy': {
      const SnappyCodec = load('kafkajs-snappy');
      if (!SnappyCodec) return 'kafkajs-snappy';
      CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;
      return null;
    }
    case 'lz4': {
      const LZ4 = load('kafkajs-lz4');
      if (!LZ4) return 'kafkajs-lz4';
      CompressionCodecs[CompressionTypes.LZ4] = new LZ4().codec;
      return null;
    }
    case 'zstd': {
      const ZstdCodec = load('@kafkajs/zstd');
      if (!ZstdCodec) return '@kafkajs/zstd';
      CompressionCodecs[CompressionTypes.ZSTD] = ZstdCodec();
      return null;
    }
    default:
      return null; // none and gzip are built in
  }
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

async function main() {
  const [bootstrap, topic, codec, countArg] = process.argv.slice(2);
  const count = Number(countArg);
  const kafkajs = load('kafkajs');
  if (!kafkajs) {
    console.error('kafkajs missing: run `make test-deps` (installs it into .deps/node)');
    return 1;
  }
  const missing = registerCodec(kafkajs, codec);
  if (missing) {
    console.error(`kafkajs cannot use ${codec}: npm package ${missing} is not installed`);
    return SKIP;
  }
  const { Kafka, CompressionTypes, Partitioners, logLevel } = kafkajs;
  const types = {
    none: CompressionTypes.None,
    gzip: CompressionTypes.GZIP,
    snappy: CompressionTypes.Snappy,
    lz4: CompressionTypes.LZ4,
    zstd: CompressionTypes.ZSTD,
  };

  const records = await readStdin();
  const kafka = new Kafka({
    clientId: 'strom-compat',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    logCreator: () => ({ label, log }) => process.stderr.write(`kafkajs ${label}: ${JSON.stringify(log)}\n`),
  });

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  for (let i = 0; i < records.length; i += SEND_CHUNK) {
    await producer.send({
      topic,
      acks: -1,
      compression: types[codec],
      messages: records.slice(i, i + SEND_CHUNK).map((r) => ({
        key: Buffer.from(r.k, 'hex'),
        value: Buffer.from(r.v, 'hex'),
        headers: Object.fromEntries(r.h.map(([k, v]) => [k, Buffer.from(v, 'hex')])),
      })),
    });
  }
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${topic}.kafkajs`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const lines = [];
  await new Promise((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          const h = Object.entries(message.headers || {}).map(([k, v]) => [k, Buffer.from(v).toString('hex')]);
          lines.push(JSON.stringify({
            p: partition,
            o: Number(message.offset),
            k: message.key.toString('hex'),
            v: message.value.toString('hex'),
            h,
          }));
          if (lines.length >= count) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exitCode = 1;
  },
);
