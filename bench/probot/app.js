// The Probot app of bench/ingest.sh: verifies each delivery (Probot's webhooks middleware does)
// and does nothing with it, so the benchmark measures Probot's ingest path alone.
export default (app) => {
  app.on("pull_request", async () => {});
};
