# The data functions (ingest, large files, pipeline steps): pyarrow, pyiceberg, duckdb and pandas exceed the 250 MB
# zip limit, so they ship as one container image; each function picks its handler with the image command.
FROM public.ecr.aws/lambda/python:3.13

# Only the core package and the cloud extra: the command line and the demo generator (extras cli, demo) stay out.
COPY pyproject.toml README.md ${LAMBDA_TASK_ROOT}/src/
COPY layers/cdp ${LAMBDA_TASK_ROOT}/src/layers/cdp
RUN pip install --no-cache-dir "${LAMBDA_TASK_ROOT}/src[cloud]" && rm -rf ${LAMBDA_TASK_ROOT}/src \
    && python -c "import cdp, pathlib, shutil; root = pathlib.Path(cdp.__file__).parent; \
shutil.rmtree(root / 'demo'); (root / 'cli.py').unlink()"

COPY functions ${LAMBDA_TASK_ROOT}/functions
# Both set by the stack from cdp.settings: the config to ship, and where the functions read it (CDP_CONFIG).
ARG CONFIG_SOURCE=layers/cdp/python/cdp/examples/retail/cdp.yaml
ARG CONFIG_PATH=/var/task/cdp.yaml
COPY ${CONFIG_SOURCE} ${CONFIG_PATH}

CMD ["functions.pipeline.handler.handler"]
