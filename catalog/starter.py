"""The starter catalog: real components that build on the portal's own Debian and busybox bases.

Loaded (idempotently) by `manage.py load_starter_catalog`. Versions are immutable: to change a
fragment, add a new version here with a new version string.
"""

APT_CLEAN = "rm -rf /var/lib/apt/lists/*"


def apt_install(*packages: str) -> str:
    """One RUN per option: update, install without recommends, drop the lists (smaller layers)."""
    return (
        "RUN apt-get update \\\n"
        f" && apt-get install -y --no-install-recommends {' '.join(packages)} \\\n"
        f" && {APT_CLEAN}"
    )


BASE_IMAGES = [
    {
        "slug": "debian-12",
        "name": "Debian 12 (bookworm)",
        "repository": "base/debian",
        "tag": "bookworm",
        "os_family": "debian",
        "os_release": "12",
        "description": "Minimal Debian 12 minted with debootstrap from the Debian archive.",
    },
    {
        "slug": "busybox",
        "name": "BusyBox 1.35 (static)",
        "repository": "base/busybox",
        "tag": "1.35",
        "os_family": "busybox",
        "os_release": "1.35",
        "description": "A tiny shell-only base for static binaries and fast tests.",
    },
]

COMPONENTS = [
    {
        "slug": "wget",
        "name": "wget",
        "kind": "option",
        "order_weight": 10,
        "description": "GNU wget for downloads at run time.",
        "versions": [{"version": "1", "os_families": ["debian"], "fragment": apt_install("wget")}],
    },
    {
        "slug": "curl",
        "name": "curl",
        "kind": "option",
        "order_weight": 10,
        "description": "curl and its CA bundle.",
        "versions": [{"version": "1", "os_families": ["debian"], "fragment": apt_install("curl", "ca-certificates")}],
    },
    {
        "slug": "timezone",
        "name": "Time zone",
        "kind": "option",
        "order_weight": 20,
        "description": "Install tzdata and set the container's local time zone.",
        "versions": [
            {
                "version": "1",
                "os_families": ["debian"],
                "parameters": [
                    {"name": "zone", "type": "timezone", "label": "Time zone", "default": "UTC",
                     "help": "A tz database name such as Europe/Paris or Asia/Shanghai."}
                ],
                "fragment": (
                    "RUN apt-get update \\\n"
                    " && apt-get install -y --no-install-recommends tzdata \\\n"
                    " && ln -sf /usr/share/zoneinfo/{{ zone }} /etc/localtime \\\n"
                    " && echo {{ zone }} > /etc/timezone \\\n"
                    f" && {APT_CLEAN}\n"
                    "ENV TZ={{ zone }}"
                ),
            }
        ],
    },
    {
        "slug": "ca-certificate",
        "name": "Company CA certificate",
        "kind": "option",
        "order_weight": 30,
        "description": "Trust an extra certificate authority (PEM) system-wide.",
        "versions": [
            {
                "version": "1",
                "os_families": ["debian"],
                "parameters": [
                    {"name": "certificate", "type": "pem", "label": "CA certificate (PEM)",
                     "help": "Paste one or more -----BEGIN CERTIFICATE----- blocks."}
                ],
                "fragment": (
                    "COPY {{ certificate }} /usr/local/share/ca-certificates/portal-extra-ca.crt\n"
                    "RUN apt-get update \\\n"
                    " && apt-get install -y --no-install-recommends ca-certificates \\\n"
                    " && update-ca-certificates \\\n"
                    f" && {APT_CLEAN}"
                ),
            }
        ],
    },
    {
        "slug": "env-var",
        "name": "Environment variable",
        "kind": "option",
        "order_weight": 60,
        "description": "Set one environment variable in the image (never put secrets here: the policy blocks them).",
        "versions": [
            {
                "version": "1",
                "os_families": ["debian", "busybox"],
                "parameters": [
                    {"name": "name", "type": "string", "label": "Variable name", "pattern": "[A-Z_][A-Z0-9_]{0,63}",
                     "pattern_help": "upper-case letters, digits and _ (e.g. APP_MODE)"},
                    {"name": "value", "type": "text", "label": "Value", "required": False, "default": "",
                     "help": "Stored literally: quotes, $ and spaces are kept as typed."},
                ],
                "fragment": "ENV {{ name }}={{ value }}",
            }
        ],
    },
    {
        "slug": "runtime-user",
        "name": "Non-root runtime user",
        "kind": "option",
        "order_weight": 90,
        "description": "Create user 'app' and run the image as that user (required by policy).",
        "versions": [
            {
                "version": "1",
                "os_families": ["debian", "busybox"],
                "parameters": [
                    {"name": "uid", "type": "integer", "label": "User id", "default": "10001", "min": 1000, "max": 65000}
                ],
                # Written to passwd/group directly so it works on bases without useradd (busybox).
                "fragment": (
                    "RUN echo app:x:{{ uid }}:{{ uid }}:app:/app:/bin/sh >> /etc/passwd \\\n"
                    " && echo app:x:{{ uid }}: >> /etc/group \\\n"
                    " && mkdir -p /app && chown {{ uid }}:{{ uid }} /app"
                ),
                "final_fragment": "WORKDIR /app\nUSER {{ uid }}:{{ uid }}",
            }
        ],
    },
    {
        "slug": "jre",
        "name": "Java runtime (OpenJDK 17 JRE)",
        "kind": "service",
        "order_weight": 10,
        "description": "Debian's headless OpenJDK 17 runtime.",
        "versions": [
            {"version": "17", "os_families": ["debian"], "fragment": apt_install("openjdk-17-jre-headless")}
        ],
    },
    {
        "slug": "jacoco",
        "name": "JaCoCo coverage agent",
        "kind": "service",
        "order_weight": 50,
        "description": "Attach the JaCoCo agent to every JVM; coverage is served on a TCP port for collectors.",
        "versions": [
            {
                "version": "0.8.6-1",
                "os_families": ["debian"],
                "requires": ["jre"],
                "parameters": [{"name": "port", "type": "port", "label": "Coverage TCP port", "default": "6300"}],
                # Debian ships the real agent (with its Premain-Class) as jacocoagent.jar inside
                # org.jacoco.agent.jar; unzip is only needed to take it out.
                "fragment": (
                    "RUN apt-get update \\\n"
                    " && apt-get install -y --no-install-recommends libjacoco-java unzip \\\n"
                    " && mkdir -p /opt/jacoco \\\n"
                    " && unzip -p /usr/share/java/org.jacoco.agent.jar jacocoagent.jar > /opt/jacoco/jacocoagent.jar \\\n"
                    " && apt-get purge -y --auto-remove unzip \\\n"
                    f" && {APT_CLEAN}\n"
                    "ENV JAVA_TOOL_OPTIONS=-javaagent:/opt/jacoco/jacocoagent.jar=output=tcpserver,address=*,port={{ port }}\n"
                    "EXPOSE {{ port }}"
                ),
            }
        ],
    },
]
