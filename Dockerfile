# The data functions (ingest, pipeline steps): pyarrow, pyiceberg, duckdb and pandas exceed the 250 MB zip limit,
# so they ship as one container image; each function picks its handler with the image command.
FROM public.ecr.aws/lambda/python:3.13

COPY pyproject.toml README.md ${LAMBDA_TASK_ROOT}/src/
COPY layers/cdp ${LAMBDA_TASK_ROOT}/src/layers/cdp
RUN pip install --no-cache-dir "${LAMBDA_TASK_ROOT}/src[cloud]" && rm -rf ${LAMBDA_TASK_ROOT}/src

COPY functions ${LAMBDA_TASK_ROOT}/functions
ARG CDP_CONFIG=layers/cdp/python/cdp/examples/retail/cdp.yaml
COPY ${CDP_CONFIG} ${LAMBDA_TASK_ROOT}/cdp.yaml
ENV CDP_CONFIG=${LAMBDA_TASK_ROOT}/cdp.yaml

CMD ["functions.pipeline.handler.handler"]
