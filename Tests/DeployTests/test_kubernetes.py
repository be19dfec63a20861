"""Kubernetes and container tests (issue 17 item 3): deploy/kubernetes/ and the Containerfile,
checked offline against Kubernetes' schemas, KServe's API models, and the fusion-serve binary.

    tools/ci/deploy-tests.sh [-k EXPRESSION]      (pytest, with the others here)

Runs under the venv of tools/ci/test-venv.sh: kubernetes-validate (with the Kubernetes JSON
schemas it bundles, so no network), PyYAML, and the kserve SDK's generated API models. No
cluster and no image build: CI has neither a registry nor a container engine. The core kinds go
through `kubernetes-validate --strict` for the oldest and newest Kubernetes versions claimed;
KServe's custom resources are walked against the kserve SDK's models (unknown fields, missing
required ones, types) and their containers validated as core Pod containers. The binary
(FUSION_SERVE_BIN, default .build/debug/fusion-serve) supplies the flags, variables and
defaults that the manifests must agree with, and is started with the ConfigMap's settings to
answer the probe paths.
"""
import http.client
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import yaml

from deployment import Failure, expect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
K8S = ROOT / "deploy/kubernetes"
CONTAINERFILE = ROOT / "Containerfile"
BIN = Path(os.environ.get("FUSION_SERVE_BIN", ROOT / ".build/debug/fusion-serve")).resolve()
MODEL = ROOT / "Tests/Fixtures/models/tiny-f32"
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
if not VALIDATE.is_file():
    raise RuntimeError(f"no kubernetes-validate next to {sys.executable}: run this with tools/ci/test-venv.sh's python")
# The core manifests `kubectl apply -k deploy/kubernetes` applies, in kustomization.yaml's order.
CORE = ["namespace.yaml", "configmap.yaml", "deployment.yaml", "service.yaml",
        "poddisruptionbudget.yaml", "horizontalpodautoscaler.yaml"]
# Oldest Kubernetes the manifests claim (docs/operations.md): PodDisruptionBudget's
# unhealthyPodEvictionPolicy is beta, on by default, from 1.27. The newest is the newest
# schema kubernetes-validate bundles.
OLDEST_KUBERNETES = "1.27.0"
# The server stops within its drain time plus this (docs/operations.md, section 2).
EXIT_AFTER_DRAIN_S = 3
# What the run stage installs: the libraries the binary links, nothing else.
RUNTIME_PACKAGES = {"libopenblas0", "libdnnl2", "libjpeg62-turbo", "libpng16-16", "libssl3"}
# In debian:bookworm-slim already (libc6 and the C++ runtime apt itself needs).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


# --- inputs ----------------------------------------------------------------------------------

def load(name):
    documents = [d for d in yaml.safe_load_all((K8S / name).read_text()) if d is not None]
    expect(len(documents) == 1, f"{name}: expected one document, found {len(documents)}")
    return documents[0]


_help = None


def serve_help():
    """(flags, {FUSION_X: default text or None}) from `fusion-serve serve --help`."""
    global _help
    if _help is None:
        result = subprocess.run([str(BIN), "serve", "--help"], capture_output=True, text=True, timeout=30)
        expect(result.returncode == 0, f"serve --help failed: {result.stderr}")
        text = " ".join(result.stdout.split())
        flags = set(re.findall(r"--([a-z][a-z0-9-]+)", text)) - {"help", "version"}
        variables = {}
        for name, rest in re.findall(r"\((FUSION_[A-Z_]+)([^)]*)\)", text):
            match = re.match(r"; default:? ([^;]*)", rest)
            variables[name] = match.group(1).strip() if match else None
        expect(len(flags) >= 20 and len(variables) >= 20, f"too few options parsed from --help: {sorted(flags)}")
        _help = (flags, variables)
    return _help


def help_default(name):
    value = serve_help()[1].get(name)
    expect(value is not None and re.fullmatch(r"\d+", value), f"--help gives no numeric default for {name}: {value!r}")
    return int(value)


def default_file_names():
    return set(re.findall(r"^#(FUSION_[A-Z_]+)=", (ROOT / "deploy/default/fusion-serve").read_text(), re.M))


def containerfile_stages():
    """[(base image, stage name, [(instruction, argument text)])] with ARG defaults substituted."""
    args, stages = {}, []
    logical = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), " ".join(rest.split())
        if instruction == "ARG" and not stages:
            key, _, value = rest.partition("=")
            args[key] = value
            continue
        if instruction == "FROM":
            rest = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest)
            words = rest.split()
            stages.append((words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else None, []))
            continue
        expect(stages, f"Containerfile: {instruction} before the first FROM")
        stages[-1][2].append((instruction, rest))
    return stages


def instructions(stage, name):
    return [rest for instruction, rest in stage[2] if instruction == name]


def apt_installed(stage):
    packages = []
    for run in instructions(stage, "RUN"):
        for match in re.finditer(r"apt-get install ((?:-[-\w]+ )*)([^&|;]+)", run):
            packages += [word for word in match.group(2).split() if not word.startswith("-")]
    return packages


def env_of(stage):
    env = {}
    for rest in instructions(stage, "ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", rest):
            env[key] = value
    return env


def exec_form(text):
    value = json.loads(text)
    expect(isinstance(value, list) and all(isinstance(v, str) for v in value), f"not an exec-form list: {text}")
    return value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=5):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def kubernetes_validate(versions, files):
    """(exit status, output) of one `kubernetes-validate --strict` run over these files, for
    each of these Kubernetes versions (its offline, bundled schemas)."""
    command = [str(VALIDATE), "--strict"]
    for version in versions:
        command += ["--kubernetes-version", version]
    result = subprocess.run(command + [str(f) for f in files], capture_output=True, text=True, timeout=120)
    return result.returncode, (result.stdout + result.stderr).strip()


def validated(output, path, version):
    """Whether the output says `path` passed for `version` (a kind without a schema is only a
    warning, with exit status 0: it must not count)."""
    minor = ".".join(version.split(".")[:2])
    return re.search(rf"^INFO {re.escape(str(path))} passed for resource \S+ against version {re.escape(minor)}$",
                     output, re.M) is not None


def validate_in_process(document, version):
    """kubernetes-validate's library call, for documents made by the tests (no process)."""
    import kubernetes_validate.utils as utils
    utils.validate(document, version, strict=True)


def newest_kubernetes():
    import kubernetes_validate.utils as utils
    return utils.latest_version()


def main_container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    expect(len(containers) == 1, "the Deployment should have one container")
    return containers[0]


def named_port(container, name):
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    expect(name in ports, f"container {container['name']} has no port named {name}: {ports}")
    return ports[name]


def probe_port(container, probe):
    port = container[probe]["httpGet"]["port"]
    return named_port(container, port) if isinstance(port, str) else port


def quantity_cpus(text):
    text = str(text)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


# --- KServe models ---------------------------------------------------------------------------

def kserve_models():
    """The kserve SDK's generated API models, without importing the SDK itself (whose
    __init__ pulls in its model server, ~10 s): the models need only kserve.configuration."""
    import site
    for base in site.getsitepackages():
        root = Path(base) / "kserve"
        if (root / "models").is_dir():
            break
    else:
        raise Failure("the kserve SDK is not installed in this venv (tools/ci/test-venv.sh)")
    if "kserve" not in sys.modules:
        package = types.ModuleType("kserve")
        package.__path__ = [str(root)]
        sys.modules["kserve"] = package
    return importlib.import_module("kserve.models")


def walk_kserve(models, value, type_name, where, core_parts):
    """Checks `value` against the SDK model `type_name`: every field known and of the right
    shape, required fields present. Kubernetes types (V1Container, …) are collected in
    `core_parts` for kubernetes-validate; V1ObjectMeta is checked here."""
    list_match = re.fullmatch(r"list\[(.+)\]", type_name)
    dict_match = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if list_match:
        expect(isinstance(value, list), f"{where}: expected a list, got {value!r}")
        for index, item in enumerate(value):
            walk_kserve(models, item, list_match.group(1), f"{where}[{index}]", core_parts)
        return
    if dict_match:
        expect(isinstance(value, dict), f"{where}: expected a map, got {value!r}")
        for key, item in value.items():
            walk_kserve(models, item, dict_match.group(1), f"{where}.{key}", core_parts)
        return
    scalars = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}
    if type_name in scalars:
        expect(isinstance(value, scalars[type_name]) and not (type_name == "int" and isinstance(value, bool)),
               f"{where}: expected {type_name}, got {value!r}")
        return
    if type_name == "V1ObjectMeta":
        expect(isinstance(value, dict) and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", value.get("name", "")),
               f"{where}: metadata needs a DNS-1123 name: {value!r}")
        return
    model = getattr(models, type_name, None)
    if model is None:
        expect(type_name.startswith("V1") or type_name.startswith("V2"), f"{where}: unknown type {type_name}")
        core_parts.append((type_name, value, where))
        return
    expect(isinstance(value, dict), f"{where}: expected an object ({type_name}), got {value!r}")
    by_json = {json_name: attribute for attribute, json_name in model.attribute_map.items()}
    unknown = sorted(set(value) - set(by_json))
    expect(not unknown, f"{where}: fields unknown to {type_name}: {unknown} (known: {sorted(by_json)})")
    for json_name, item in value.items():
        walk_kserve(models, item, model.openapi_types[by_json[json_name]], f"{where}.{json_name}", core_parts)
    # The generated constructor refuses a missing required field (client-side validation).
    try:
        model(**{by_json[k]: v for k, v in value.items()})
    except ValueError as error:
        raise Failure(f"{where}: {type_name} refuses it: {error}")


def check_kserve_resource(models, document, type_name, tmp):
    core_parts = []
    walk_kserve(models, document, type_name, document.get("kind", type_name), core_parts)
    containers = [value for kind, value, _ in core_parts if kind == "V1Container"]
    others = [(kind, where) for kind, value, where in core_parts if kind != "V1Container"]
    expect(not others, f"Kubernetes types not checked by this test: {others}")
    if containers:
        # Their containers are core Pod containers: validate them as such.
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kserve-containers"},
               "spec": {"containers": containers}}
        try:
            validate_in_process(pod, newest_kubernetes())
        except Exception as error:  # noqa: BLE001 — ValidationError and schema errors alike
            raise Failure(f"{document['kind']} containers are not valid Pod containers: {error}")
    return containers


# --- tests -----------------------------------------------------------------------------------

def test_core_manifests_pass_kubernetes_validate(tmp):
    kustomization = load("kustomization.yaml")
    expect(kustomization.get("resources") == CORE, f"kustomization.yaml resources {kustomization.get('resources')} != {CORE}")
    on_disk = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    expect(on_disk == sorted(CORE), f"manifests not in kustomization.yaml (and not validated): {set(on_disk) - set(CORE)}")
    from kubernetes_validate.version import __version__ as version
    files = [K8S / name for name in CORE]
    versions = [OLDEST_KUBERNETES, newest_kubernetes()]
    code, output = kubernetes_validate(versions, files)
    expect(code == 0, f"kubernetes-validate: exit {code}\n{output}")
    for kubernetes in versions:
        missing = [path.name for path in files if not validated(output, path, kubernetes)]
        expect(not missing, f"kubernetes-validate did not pass {missing} for {kubernetes}:\n{output}")
        print(f"    kubernetes-validate {version}: {len(files)} manifests valid (--strict) for Kubernetes {kubernetes}")
    # The check can fail: a misspelt field and a port given as a string are errors, and a kind
    # without a schema is not counted as validated.
    deployment = (K8S / "deployment.yaml").read_text()
    misspelt, string_port, unknown = (Path(tmp) / name for name in ("misspelt.yaml", "string-port.yaml", "unknown.yaml"))
    misspelt.write_text(deployment.replace("readinessProbe:", "readynessProbe:", 1))
    string_port.write_text(deployment.replace("containerPort: 8080", 'containerPort: "8080"', 1))
    unknown.write_text("apiVersion: example.com/v1\nkind: Nothing\nmetadata:\n  name: x\n")
    code, output = kubernetes_validate([newest_kubernetes()], [misspelt, string_port, unknown])
    expect(code != 0, f"broken manifests passed kubernetes-validate:\n{output}")
    expect("readynessProbe" in output and "containerPort" in output, f"an error went unreported:\n{output}")
    expect(not any(validated(output, path, newest_kubernetes()) for path in (misspelt, string_port, unknown)),
           f"a broken or unknown manifest counted as validated:\n{output}")


def test_kserve_examples_are_well_formed_v2(tmp):
    models = kserve_models()
    runtime = yaml.safe_load((K8S / "kserve/servingruntime.yaml").read_text())
    service = yaml.safe_load((K8S / "kserve/inferenceservice.yaml").read_text())
    expect((runtime["apiVersion"], runtime["kind"]) == ("serving.kserve.io/v1alpha1", "ServingRuntime"),
           f"servingruntime.yaml is {runtime['apiVersion']} {runtime['kind']}")
    expect((service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService"),
           f"inferenceservice.yaml is {service['apiVersion']} {service['kind']}")
    containers = check_kserve_resource(models, runtime, "V1alpha1ServingRuntime", tmp)
    check_kserve_resource(models, service, "V1beta1InferenceService", tmp)

    spec = runtime["spec"]
    expect(spec.get("protocolVersions") == ["v2"], f"protocolVersions {spec.get('protocolVersions')}, want [v2]")
    expect(len(containers) == 1 and containers[0]["name"] == "kserve-container",
           "KServe looks for one container named kserve-container")
    container = containers[0]
    ports = [p["containerPort"] for p in container["ports"]]
    expect(ports == [help_default("FUSION_PORT")], f"ports {ports}: KServe's v2 REST port is the server's 8080")
    args = container["command"][1:] + container["args"]
    expect(args[0] == "serve", f"the runtime does not run `serve`: {args}")
    flags, variables = serve_help()
    for flag in (a[2:] for a in args if a.startswith("--")):
        expect(flag in flags, f"--{flag} is not a serve flag")
    expect(args[args.index("--model") + 1] == "/mnt/models", "KServe's storage initializer puts the model in /mnt/models")
    expect(args[args.index("--port") + 1] == str(ports[0]), "--port differs from containerPort")
    for variable in container.get("env", []):
        expect(variable["name"] in variables, f"{variable['name']} is not a serve variable")
    env = {v["name"]: v["value"] for v in container.get("env", [])}
    resources = container["resources"]
    cpus = quantity_cpus(resources["limits"]["cpu"])
    expect(resources["requests"] == resources["limits"] and cpus == int(cpus), "whole CPUs, requests = limits")
    expect(int(env.get("FUSION_WORKERS", 0)) == int(cpus) - 1, f"FUSION_WORKERS {env.get('FUSION_WORKERS')} for {cpus} CPUs")
    for probe, path in (("readinessProbe", "/healthz"), ("livenessProbe", "/livez")):
        expect(container[probe]["httpGet"]["path"] == path and container[probe]["httpGet"]["port"] == ports[0],
               f"{probe} should be GET {path} on {ports[0]}")

    model = service["spec"]["predictor"]["model"]
    expect(model.get("protocolVersion") == "v2", f"protocolVersion {model.get('protocolVersion')}, want v2")
    expect(model.get("runtime") == runtime["metadata"]["name"], "the InferenceService names another runtime")
    formats = {f["name"] for f in spec["supportedModelFormats"]}
    expect(model["modelFormat"]["name"] in formats, f"model format {model['modelFormat']} not in {formats}")
    # The v2 routes are /v2/models/<config.json name>/…, KServe's are /v2/models/<isvc name>/….
    name = json.loads((ROOT / "models/default/config.json").read_text())["name"]
    expect(service["metadata"]["name"] == name, f"InferenceService {service['metadata']['name']} != model name {name}")
    # The check can fail: a misspelt field is refused.
    runtime["spec"]["protocolVersion"] = ["v2"]
    try:
        walk_kserve(models, runtime, "V1alpha1ServingRuntime", "ServingRuntime", [])
    except Failure as error:
        expect("protocolVersion" in str(error), f"unexpected refusal: {error}")
    else:
        raise Failure("a misspelt ServingRuntime field passed the structural check")


def test_env_names_are_serve_options(tmp):
    flags, variables = serve_help()
    configured = load("configmap.yaml")["data"]
    stages = containerfile_stages()
    image_env = env_of(stages[-1])
    runtime = yaml.safe_load((K8S / "kserve/servingruntime.yaml").read_text())
    runtime_env = [v["name"] for c in runtime["spec"]["containers"] for v in c.get("env", [])]
    documented = default_file_names()
    for source, names in (("configmap.yaml", configured), ("Containerfile ENV", image_env),
                          ("servingruntime.yaml", runtime_env)):
        for name in names:
            expect(name in variables, f"{source}: {name} is not a `serve` variable (not in --help)")
            expect(name in documented, f"{source}: {name} is not in deploy/default/fusion-serve")
            flag = name[len("FUSION_"):].lower().replace("_", "-")
            expect(flag in flags, f"{source}: {name} has no --{flag} flag")
    expect(all(isinstance(v, str) for v in configured.values()), "ConfigMap values must be strings")
    # The Deployment takes the whole ConfigMap and sets no FUSION_ variable of its own.
    container = main_container(load("deployment.yaml"))
    expect(container.get("envFrom") == [{"configMapRef": {"name": load("configmap.yaml")["metadata"]["name"]}}],
           f"envFrom {container.get('envFrom')}")
    expect(not container.get("env"), "variables set in the Deployment bypass the ConfigMap")


def test_probes_and_ports_match_the_server(tmp):
    deployment = load("deployment.yaml")
    service = load("service.yaml")
    configured = load("configmap.yaml")["data"]
    container = main_container(deployment)
    port = named_port(container, "http")
    expect(port == int(configured["FUSION_PORT"]) == help_default("FUSION_PORT"),
           f"containerPort {port}, FUSION_PORT {configured['FUSION_PORT']}, server default {help_default('FUSION_PORT')}")
    expect(configured["FUSION_HOST"] == "0.0.0.0", "in a pod the server must listen on the pod's address")
    probes = {"readinessProbe": "/healthz", "startupProbe": "/healthz", "livenessProbe": "/livez"}
    for probe, path in probes.items():
        expect(container[probe]["httpGet"]["path"] == path, f"{probe} path {container[probe]['httpGet']['path']}, want {path}")
        expect(probe_port(container, probe) == port, f"{probe} is not on the server's port")
    startup = container["startupProbe"]
    expect(startup["periodSeconds"] * startup["failureThreshold"] >= 60, "the startup probe allows less than 60 s to load")
    (service_port,) = service["spec"]["ports"]
    expect(service_port["targetPort"] == "http" and service_port["port"] == port, f"Service port {service_port}")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for name, selector in (("Service", service["spec"]["selector"]),
                           ("Deployment", deployment["spec"]["selector"]["matchLabels"]),
                           ("PodDisruptionBudget", load("poddisruptionbudget.yaml")["spec"]["selector"]["matchLabels"])):
        expect(selector.items() <= labels.items(), f"the {name}'s selector {selector} does not select the pods {labels}")
    target = load("horizontalpodautoscaler.yaml")["spec"]["scaleTargetRef"]
    expect((target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"]), f"HPA target {target}")

    # The server, with the ConfigMap's settings (address, port, model and workers made local),
    # answers the probes' paths: 200 once ready, and the liveness path at once.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSION_") and k != "NOTIFY_SOCKET"}
    env.update(configured)
    local = free_port()
    env.update({"FUSION_HOST": "127.0.0.1", "FUSION_PORT": str(local), "FUSION_MODEL": str(MODEL), "FUSION_WORKERS": "1"})
    log = open(Path(tmp) / "server.log", "wb")
    server = subprocess.Popen([str(BIN), *container["args"]], env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            expect(server.poll() is None, f"the server refused the ConfigMap's settings:\n{(Path(tmp) / 'server.log').read_text()[-2000:]}")
            try:
                status, _ = get(local, probes["readinessProbe"], timeout=2)
            except OSError:
                pass
            time.sleep(0.1)
        expect(status == 200, f"{probes['readinessProbe']} not 200 within 60 s")
        for path in set(probes.values()):
            status, body = get(local, path)
            expect(status == 200, f"GET {path}: {status} {body[:200]!r}")
        status, _ = get(local, "/no-such-probe")
        expect(status == 404, "an unknown path answered — the probe check could not fail")
        server.send_signal(signal.SIGTERM)
        expect(server.wait(timeout=60) == 0, "exit status after SIGTERM")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def test_termination_grace_covers_the_drain(tmp):
    pod = load("deployment.yaml")["spec"]["template"]["spec"]
    container = main_container(load("deployment.yaml"))
    drain = int(load("configmap.yaml")["data"].get("FUSION_DRAIN_TIMEOUT_S", help_default("FUSION_DRAIN_TIMEOUT_S")))
    expect(drain >= help_default("FUSION_DRAIN_TIMEOUT_S"),
           f"FUSION_DRAIN_TIMEOUT_S={drain} is below the server's default {help_default('FUSION_DRAIN_TIMEOUT_S')}")
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    expect(command[0] == "sleep" and re.fullmatch(r"\d+", command[1]), f"preStop {command}: expected sleep N")
    pre_stop = int(command[1])
    expect(pre_stop >= 3, "preStop shorter than endpoint removal usually takes")
    grace = pod["terminationGracePeriodSeconds"]
    # The grace period counts from the start of preStop; SIGTERM comes after it.
    needed = pre_stop + drain + EXIT_AFTER_DRAIN_S
    expect(grace > needed, f"terminationGracePeriodSeconds {grace} <= preStop {pre_stop} + drain {drain} + {EXIT_AFTER_DRAIN_S}")
    strategy = load("deployment.yaml")["spec"]["strategy"]["rollingUpdate"]
    expect(strategy["maxUnavailable"] == 0, "a rollout should not drop capacity below the replica count")


def test_pod_is_hardened_and_guaranteed(tmp):
    deployment = load("deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    expect(pod.get("enableServiceLinks") is False, "Service links would inject *_PORT variables (FUSION_PORT for a Service named fusion)")
    expect(pod.get("automountServiceAccountToken") is False, "the server needs no API token")
    security = pod["securityContext"]
    expect(security.get("runAsNonRoot") is True and security.get("runAsUser", 0) > 0, f"pod securityContext {security}")
    expect(security.get("seccompProfile") == {"type": "RuntimeDefault"}, "seccomp RuntimeDefault")
    for container in pod.get("initContainers", []) + pod["containers"]:
        context = container.get("securityContext", {})
        name = container["name"]
        expect(context.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation")
        expect(context.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem")
        expect(context.get("capabilities") == {"drop": ["ALL"]}, f"{name}: capabilities {context.get('capabilities')}")
        resources = container["resources"]
        expect(resources.get("requests") == resources.get("limits"), f"{name}: requests != limits (not Guaranteed QoS)")
    namespace = load("namespace.yaml")["metadata"]["labels"]
    expect(namespace.get("pod-security.kubernetes.io/enforce") == "restricted", "namespace not under the restricted profile")

    # Whole CPUs (Guaranteed QoS + static CPU manager = an exclusive cpuset), one per worker
    # plus one for the event loop.
    container = main_container(deployment)
    cpus = quantity_cpus(container["resources"]["limits"]["cpu"])
    expect(cpus == int(cpus) and cpus >= 2, f"CPU limit {cpus}: give whole CPUs")
    workers = int(load("configmap.yaml")["data"]["FUSION_WORKERS"])
    expect(workers == int(cpus) - 1, f"FUSION_WORKERS={workers} for {cpus} CPUs: want CPUs - 1")

    # The model comes from a volume, mounted read-only where FUSION_MODEL points.
    model = Path(load("configmap.yaml")["data"]["FUSION_MODEL"])
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    owning = [path for path in mounts if model.is_relative_to(path)]
    expect(len(owning) == 1, f"FUSION_MODEL {model} is not on a volume: mounts {sorted(mounts)}")
    expect(mounts[owning[0]].get("readOnly") is True, "the model volume must be mounted read-only")
    volumes = {v["name"]: v for v in pod["volumes"]}
    expect(mounts[owning[0]]["name"] in volumes, "the model mount names no volume")
    # The init container fills it from the model the image carries.
    (init,) = pod["initContainers"]
    image_model = env_of(containerfile_stages()[-1])["FUSION_MODEL"]
    expect(init["command"][:2] == ["cp", "-R"] and init["command"][2] == image_model,
           f"init container {init['command']} does not copy the image's model {image_model}")
    expect(Path(init["command"][3]) / Path(image_model).name == model, f"the copy does not land at FUSION_MODEL {model}")
    expect(init["image"] == container["image"], "the init container should use the server's image")


def test_containerfile_builds_with_swift_and_runs_slim(tmp):
    stages = containerfile_stages()
    expect(len(stages) == 2, f"expected a build and a run stage, found {[(s[0], s[1]) for s in stages]}")
    build, run = stages
    expect(re.fullmatch(r"(docker\.io/library/)?swift:\d+\.\d+(\.\d+)?-bookworm", build[0]),
           f"build stage base {build[0]}: want the Swift image on Debian 12")
    expect(build[1] == "build", "the build stage should be named build")
    expect(re.fullmatch(r"(docker\.io/library/)?debian:bookworm-slim", run[0]), f"run stage base {run[0]}")
    if shutil.which("swift"):
        version = re.search(r"Swift version (\d+\.\d+)", subprocess.run(["swift", "--version"], capture_output=True,
                                                                         text=True, timeout=60).stdout)
        expect(version and f"swift:{version.group(1)}" in build[0],
               f"the image builds with {build[0]}, CI with Swift {version.group(1) if version else '?'}")

    build_packages = set(apt_installed(build))
    makefile = (ROOT / "Makefile").read_text()
    wanted = set(re.search(r"^APT_PACKAGES := (.*)$", makefile, re.M).group(1).split()) - {"curl", "python3"}
    expect(wanted <= build_packages, f"the build stage misses the Makefile's build packages {wanted - build_packages}")
    builds = [r for r in instructions(build, "RUN") if "swift build" in r]
    expect(builds and "-c release" in builds[0] and "--static-swift-stdlib" in builds[0] and "--product fusion-serve" in builds[0],
           f"build command {builds}")

    runtime = apt_installed(run)
    expect(set(runtime) == RUNTIME_PACKAGES, f"run stage installs {runtime}, want {sorted(RUNTIME_PACKAGES)}")
    expect(not [p for p in runtime if p.endswith("-dev")], "no -dev packages at run time")
    expect(all("--no-install-recommends" in r for r in instructions(run, "RUN") if "apt-get install" in r),
           "apt-get install without --no-install-recommends pulls in more than the libraries")
    check_packages_exist(runtime)
    check_binary_needs_only(runtime)

    copies = {rest.split()[-1]: rest for rest in instructions(run, "COPY")}
    deployment_container = main_container(load("deployment.yaml"))
    binary = deployment_container["command"][0]
    expect(binary in copies and copies[binary].startswith("--from=build "), f"{binary} is not copied from the build stage")
    (entrypoint,) = instructions(run, "ENTRYPOINT")
    (cmd,) = instructions(run, "CMD")
    expect(exec_form(entrypoint) == [binary], f"ENTRYPOINT {entrypoint} != the Deployment's command {binary}")
    expect(exec_form(cmd) == deployment_container["args"], f"CMD {cmd} != the Deployment's args")
    env = env_of(run)
    expect(env.get("FUSION_MODEL") in copies and copies[env["FUSION_MODEL"]].startswith("models/default "),
           f"FUSION_MODEL {env.get('FUSION_MODEL')} is not where the default model is copied")
    expect(env.get("FUSION_HOST") == "0.0.0.0", "a container must listen on every interface")
    (expose,) = instructions(run, "EXPOSE")
    expect(int(expose) == int(env["FUSION_PORT"]) == help_default("FUSION_PORT") == named_port(deployment_container, "http"),
           f"EXPOSE {expose}, ENV FUSION_PORT {env.get('FUSION_PORT')}, the Deployment's port")
    (user,) = instructions(run, "USER")
    uid, _, gid = user.partition(":")
    pod_security = load("deployment.yaml")["spec"]["template"]["spec"]["securityContext"]
    expect(uid.isdigit() and int(uid) > 0, f"USER {user}: numeric and not root (runAsNonRoot checks it)")
    expect((int(uid), int(gid or uid)) == (pod_security["runAsUser"], pod_security["runAsGroup"]),
           f"USER {user} != the pod's runAsUser/runAsGroup")
    expect(instructions(run, "STOPSIGNAL") == ["SIGTERM"], "SIGTERM drains")
    ignored = (ROOT / ".dockerignore").read_text().split()
    expect(".build" in ignored and ".git" in ignored and ".cache" in ignored,
           ".dockerignore must keep .build, .cache and .git out of the build context")
    for copied in ("models/default/config.json", "Package.swift", "Sources"):
        expect((ROOT / copied).exists(), f"the image copies {copied}, which does not exist")


def apt_lists_present():
    return any(Path("/var/lib/apt/lists").glob("*_Packages*"))


def check_packages_exist(packages):
    if not shutil.which("apt-cache"):
        print("    apt-cache not here: run-stage package names not checked")
        return
    policy = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True, timeout=60).stdout
    candidates = dict(re.findall(r"^(\S+):\n(?:.*\n)*?\s+Candidate: (\S+)", policy, re.M))
    missing = [p for p in packages if candidates.get(p, "(none)") == "(none)"]
    if missing and not apt_lists_present():
        print(f"    no apt lists (apt-get update): {missing} not checked")
        return
    expect(not missing, f"no such Debian packages here: {missing}\n{policy}")
    print("    run-stage packages: " + ", ".join(f"{p} {candidates[p]}" for p in packages))


def check_binary_needs_only(packages):
    """The binary's shared libraries (other than the Swift runtime, linked statically in the
    image) come from the run stage's packages, their dependencies, or the base image."""
    if not (shutil.which("ldd") and shutil.which("dpkg-query")):
        print("    ldd/dpkg-query not here: shared libraries not checked")
        return
    ldd = subprocess.run(["ldd", str(BIN)], capture_output=True, text=True, timeout=60).stdout
    paths = re.findall(r"=> (/\S+)", ldd)
    swift = [p for p in paths if "/swift/" in p]
    system = [p for p in paths if "/swift/" not in p]
    expect(system, f"ldd found no system libraries:\n{ldd}")
    # dpkg knows a file by the path its package installed, before or after /usr merging and
    # symbolic links: ask for every spelling at once (dpkg-query -S fails only if none matches).
    spellings = {}
    for path in system:
        real = os.path.realpath(path)
        for name in (path, real, re.sub(r"^/usr/lib/", "/lib/", real), re.sub(r"^/lib/", "/usr/lib/", path)):
            spellings.setdefault(name, path)
    search = subprocess.run(["dpkg-query", "-S", *spellings], capture_output=True, text=True, timeout=60).stdout
    owners, owned = set(), set()
    for line in search.splitlines():
        package, _, name = line.partition(": ")
        if name in spellings:
            owners.update(p.split(":")[0] for p in package.split(", "))
            owned.add(spellings[name])
    unowned = sorted(set(system) - owned)
    expect(not unowned, f"no package owns {unowned}")
    # The dependency closure of the run stage's packages, from dpkg's own database (apt-cache
    # would rebuild its cache for seconds); they are installed here as dependencies of the
    # build packages (make deps).
    status = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Pre-Depends}, ${Depends}\n"],
                            capture_output=True, text=True, timeout=60).stdout
    depends = {}
    for line in status.splitlines():
        name, _, fields = line.partition("\t")
        depends[name] = {alternative.split()[0].split(":")[0]
                         for field in fields.split(",") for alternative in field.split("|") if alternative.strip()}
    absent = [p for p in packages if p not in depends]
    if absent:
        print(f"    {absent} not installed here: shared libraries not checked")
        return
    provided, frontier = set(), list(packages)
    while frontier:
        package = frontier.pop()
        if package not in provided:
            provided.add(package)
            frontier += sorted(depends.get(package, ()))
    missing = sorted(owners - provided - BASE_IMAGE_PACKAGES)
    expect(not missing, f"the binary links libraries from {missing}, which the run stage does not install")
    print(f"    linked system libraries come from {sorted(owners)} (and {len(swift)} Swift runtime libraries, static in the image)")
