'use strict';
// Consume as a consumer group through kafkajs, for Strom's compat tests.
//
// Usage: node kafkajs_group.js BOOTSTRAP TOPIC GROUP COUNT
// (NODE_PATH must point at the node_modules that scripts/test-deps.sh fills)
//
// Joins GROUP (subscribed to TOPIC, fromBeginning when the group has no
// committed offset), reads COUNT records with kafkajs' default auto-commit,
// prints each value on its own line, then disconnects (which commits what
// was processed and leaves the group). Exit status 0 on success, 1 on any
// failure.

async function main() {
  const [bootstrap, topic, group, countArg] = process.argv.slice(2);
  const count = Number(countArg);
  const { Kafka, logLevel } = require('kafkajs');
  const kafka = new Kafka({
    clientId: 'kafkajs-group',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    logCreator: () => ({ label, log }) => process.stderr.write(`kafkajs ${label}: ${JSON.stringify(log)}\n`),
  });
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const values = [];
  await new Promise((resolve, reject) => {
    // A crash without restart would otherwise leave this promise pending
    // and node would exit 0 with nothing printed.
    consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
    consumer
      .run({
        eachMessage: async ({ message }) => {
          values.push(message.value.toString());
          if (values.length >= count) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  process.stdout.write(values.join('\n') + '\n');
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
