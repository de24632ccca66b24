/**
 * Example specs, used by the docs, the tests and as starter files.
 */

/** The smallest useful spec: one model, one deployment with two replicas. */
export const MINIMAL_SPEC = `models:
  credit-risk:
    path: ./model.onnx
deployments:
  credit-risk:
    model: credit-risk
    replicas: 2
`;

/** A spec using every section of the current format. */
export const EXAMPLE_SPEC = `version: 1

server:
  host: 0.0.0.0          # accept connections from other hosts
  port: 8080
  bodyLimit: 64MiB
  requestTimeout: 10s    # default deadline for every deployment
  drainTimeout: 15s

state:
  dir: .aloft            # artifacts and the SQLite database, next to this file

models:
  credit-risk:
    path: ./models/credit-risk.onnx
    description: Probability of default for a loan application
    labels:
      team: risk
      tier: "1"
  fraud:
    path: ./models/fraud.onnx

deployments:
  credit-risk:
    model: credit-risk@production   # whatever version the 'production' alias points to
    replicas: { min: 1, max: 4 }    # autoscaled
    batching:
      maxBatchSize: 128
      maxQueueDelay: 2ms            # wait up to 2 ms for a fuller batch
      maxQueueSize: 512
    runtime:
      intraOpThreads: 2
      graphOptimization: extended
    timeout: 250ms
    description: Scores loan applications
  fraud:                            # model defaults to the deployment name
    replicas: 2
    batching:
      enabled: false
  churn:
    model: churn@7                  # registered earlier, not declared here
    replicas: 0                     # declared but not serving
`;
