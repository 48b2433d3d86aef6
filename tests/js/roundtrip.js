// Produce N messages with KafkaJS and read them back in a consumer group, over whatever
// security the JSON config in argv[2] names ({brokers, ssl, sasl, topic, count}).
// Prints "OK <count>" when every message came back in order; exits non-zero otherwise.
const { Kafka, logLevel } = require("kafkajs");
const fs = require("fs");

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const ssl = cfg.ssl ? { ca: [fs.readFileSync(cfg.ssl.ca, "utf-8")], rejectUnauthorized: true } : false;
  const kafka = new Kafka({ clientId: "hpbroker-kafkajs", brokers: cfg.brokers, ssl, sasl: cfg.sasl, logLevel: logLevel.ERROR });
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < cfg.count; i++) messages.push({ value: String(i) });
  await producer.send({ topic: cfg.topic, messages });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `g-${cfg.topic}` });
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} messages`)), 30000);
    consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value.toString());
        if (got.length >= cfg.count) { clearTimeout(timer); resolve(); }
      },
    });
  });
  await consumer.disconnect();
  for (let i = 0; i < cfg.count; i++) if (got[i] !== String(i)) throw new Error(`message ${i} is ${got[i]}`);
  console.log(`OK ${got.length}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
