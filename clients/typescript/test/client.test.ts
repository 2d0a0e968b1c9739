// The client against an in-process gRPC server (Connect's Node adapter speaking gRPC over
// HTTP/2): what goes on the wire and how errors come back, with no anomalyd server.
import assert from "node:assert/strict";
import { type Http2Server, createServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { AnomalydError, Client, Reason, StatusCode } from "../src/index.js";
import { JobService, type PostDataRequest } from "../src/gen/anomalyd/v1/job_service_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";

const decoder = new TextDecoder();

/** What the fake server saw of the last upload. */
let uploads: { authorization: string | null; messages: PostDataRequest[] }[] = [];

function anomalydError(message: string, code: Code, reason: string, metadata: Record<string, string>): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: { reason, domain: "anomalyd.io", metadata } },
  ]);
}

function routes(router: ConnectRouter): void {
  router.service(JobService, {
    getJobs(request, context) {
      if (request.jobId === "missing") {
        throw anomalydError(`no job or group matches '${request.jobId}'`, Code.NotFound, "JOB_NOT_FOUND", {
          jobId: request.jobId,
        });
      }
      return { jobs: [{ jobId: context.requestHeader.get("authorization") ?? "" }], count: 1n };
    },
    putJob() {
      throw new ConnectError("invalid job config", Code.InvalidArgument, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "INVALID_JOB_CONFIG", domain: "anomalyd.io", metadata: {} } },
        {
          desc: BadRequestSchema,
          value: { fieldViolations: [{ field: "analysis_config.detectors[0].function", description: "unknown" }] },
        },
      ]);
    },
    updateJob(request) {
      // Echoes what came: the mask as the description, the job otherwise as sent.
      const job = request.job;
      if (job) {
        job.description = request.updateMask?.paths.join(" ") ?? "";
      }
      return { job };
    },
    async postData(requests, context) {
      const upload = { authorization: context.requestHeader.get("authorization"), messages: [] as PostDataRequest[] };
      uploads.push(upload);
      let records = 0n;
      for await (const request of requests) {
        if (request.jobId === "busy") {
          throw anomalydError("another data stream is active", Code.Aborted, "DATA_STREAM_ACTIVE", { jobId: "busy" });
        }
        upload.messages.push(request);
        records += BigInt(request.data.filter((byte) => byte === 0x0a).length);
        records += BigInt(request.columns?.times.length ?? 0);
      }
      return { dataCounts: { jobId: upload.messages[0]?.jobId ?? "", processedRecordCount: records } };
    },
  });
}

let server: Http2Server;
let target: string;

before(async () => {
  server = createServer(connectNodeAdapter({ routes }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
});

function ndjson(records: number): string {
  let text = "";
  for (let i = 0; i < records; i++) {
    text += `{"time": ${1700000000 + i}, "airline": "A${i % 19}", "responsetime": ${i % 997}}\n`;
  }
  return text;
}

describe("Client", () => {
  it("sends UpdateJob a field mask of exactly the settings given", async () => {
    const client = new Client(target);
    try {
      const job = await client.updateJob("web", {
        groups: [],
        modelMemoryLimit: 64,
        resultsRetentionDays: 30,
        customSettings: { owner: "sre", runbook: { url: "https://runbooks/web" } },
        detectorDescriptions: { 1: "requests" },
      });
      assert.equal(
        job.description,
        "groups analysis_limits results_retention_days custom_settings analysis_config.detectors",
      );
      assert.equal(job.jobId, "web");
      assert.equal(job.analysisLimits?.modelMemoryLimit, "64");
      assert.equal(job.resultsRetentionDays, 30n);
      assert.deepEqual(job.customSettings, { owner: "sre", runbook: { url: "https://runbooks/web" } });
      assert.deepEqual(
        job.analysisConfig?.detectors.map((d) => [d.detectorIndex, d.detectorDescription]),
        [[1, "requests"]],
      );
    } finally {
      client.close();
    }
  });

  it("turns a failed call into an AnomalydError with its ErrorInfo", async () => {
    const client = new Client(target);
    try {
      const error = await client.getJobs("missing", { allowNoMatch: false }).then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof AnomalydError);
      assert.equal(error.code, StatusCode.NOT_FOUND);
      assert.equal(error.reason, Reason.JOB_NOT_FOUND);
      assert.equal(error.message, "no job or group matches 'missing'");
      assert.equal(error.domain, "anomalyd.io");
      assert.deepEqual(error.metadata, { jobId: "missing" });
      assert.deepEqual(error.fieldViolations, []);
      assert.ok(error.cause instanceof ConnectError);
    } finally {
      client.close();
    }
  });

  it("reads a BadRequest's field violations", async () => {
    const client = new Client(target);
    try {
      await assert.rejects(client.putJob("bad", { detectors: ["nope"] }), (error: unknown) => {
        assert.ok(error instanceof AnomalydError);
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.equal(error.reason, "INVALID_JOB_CONFIG");
        assert.deepEqual(error.fieldViolations, [
          { field: "analysis_config.detectors[0].function", description: "unknown" },
        ]);
        return true;
      });
    } finally {
      client.close();
    }
  });

  it("sends the API key with every call", async () => {
    const client = new Client(target, { apiKey: "aWQ6c2VjcmV0" });
    try {
      const [job] = await client.getJobs("_all");
      assert.equal(job?.jobId, "ApiKey aWQ6c2VjcmV0");
      uploads = [];
      await client.postData("web", Buffer.from(ndjson(3)));
      assert.equal(uploads[0]?.authorization, "ApiKey aWQ6c2VjcmV0");
    } finally {
      client.close();
    }
  });

  it("uploads in messages of about 1 MiB cut at newlines, the job id and reset in the first", async () => {
    const client = new Client(target);
    const text = ndjson(60_000);
    const progress: number[] = [];
    try {
      uploads = [];
      const counts = await client.postData("web", Buffer.from(text), {
        resetStart: "2023-11-14T22:13:20Z",
        onProgress: (p) => progress.push(p.recordsSent),
      });
      assert.equal(counts.processedRecordCount, 60_000n);
      const [upload] = uploads;
      assert.ok(upload !== undefined && upload.messages.length >= 3);
      const [first, ...rest] = upload.messages;
      assert.equal(first?.jobId, "web");
      assert.equal(first?.resetStart && timestampMs(first.resetStart), 1700000000000);
      assert.ok(rest.every((m) => m.jobId === "" && m.resetStart === undefined));
      for (const message of upload.messages) {
        assert.ok(message.data.length <= 1 << 20);
        assert.equal(message.data.at(-1), 0x0a);
      }
      assert.ok(upload.messages.slice(0, -1).every((m) => m.data.length > (1 << 20) - 100));
      assert.equal(upload.messages.map((m) => decoder.decode(m.data)).join(""), text);
      assert.equal(progress.at(-1), 60_000);
    } finally {
      client.close();
    }
  });

  it("uploads records and column batches", async () => {
    const client = new Client(target);
    try {
      uploads = [];
      const counts = await client.postRecords("web", [{ time: 1 }, { time: 2 }]);
      assert.equal(counts.processedRecordCount, 2n);
      assert.equal(decoder.decode(uploads[0]?.messages[0]?.data), '{"time":1}\n{"time":2}\n');
      const columns = await client.postColumns("web", [
        { time: [1000, 2000], airline: ["AAL", "AAL"] },
        { time: [3000], airline: ["JZA"] },
      ]);
      assert.equal(columns.processedRecordCount, 3n);
      assert.deepEqual(uploads[1]?.messages.map((m) => m.columns?.stringColumns[0]?.dictionary), [["AAL"], ["JZA"]]);
    } finally {
      client.close();
    }
  });

  it("throws the source's own error, after sending what it read", async () => {
    const client = new Client(target);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from(ndjson(2));
      yield Buffer.from('{"time": 17000');
      throw new Error("disk gone");
    }
    try {
      uploads = [];
      await assert.rejects(client.postData("web", failing()), /disk gone/);
      assert.equal(uploads[0]?.messages.map((m) => decoder.decode(m.data)).join(""), ndjson(2));
    } finally {
      client.close();
    }
  });

  it("reports a refused stream and lets the source go", async () => {
    const client = new Client(target);
    let released = false;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield Buffer.from(ndjson(1000));
      } finally {
        released = true;
      }
    }
    try {
      await assert.rejects(client.postData("busy", endless()), (error: unknown) => {
        assert.ok(error instanceof AnomalydError);
        assert.equal(error.reason, Reason.DATA_STREAM_ACTIVE);
        assert.equal(error.code, "ABORTED");
        return true;
      });
      assert.ok(released);
    } finally {
      client.close();
    }
  });

  it("reports an unreachable server with its code and no reason", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = new Client(`127.0.0.1:${port}`, { timeoutMs: 5_000 });
    try {
      await assert.rejects(client.getJobs(), (error: unknown) => {
        assert.ok(error instanceof AnomalydError);
        assert.equal(error.code, "UNAVAILABLE");
        assert.equal(error.reason, "");
        return true;
      });
    } finally {
      client.close();
    }
  });

  it("refuses a client certificate without its key", () => {
    assert.throws(() => new Client(target, { tls: { cert: "PEM" } }), /needs its key/);
  });
});
