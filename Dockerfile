# Build stage, built with no network: the code package, then the team's .paas/build-env.sh, then the build command.
# Its image is removed after use; the image stage receives only the build output.
FROM 127.0.0.1:5000/base/busybox@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
LABEL io.image-portal.build-stage=portal-build-id
COPY package/ /src/
WORKDIR /src
# .paas/build-env.sh from the package, sha256:3b8a5b679a4baf91dc684c8cc9f8a4dea5a95a1ab9be3e5f041ff07c8779f4b8
COPY paas/build-env.sh /tmp/portal-paas/build-env.sh
RUN ["sh", "/tmp/portal-paas/build-env.sh"]
# the team's build command
RUN ["sh", "-c", "make dist; $(id)"]
