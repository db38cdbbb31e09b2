{{/* Names, labels and pieces shared by the templates. */}}

{{- define "shortlink.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<name>", or just the release name when it already contains the name. */}}
{{- define "shortlink.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else if contains (include "shortlink.name" .) .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "shortlink.name" .) | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "shortlink.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "shortlink.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shortlink
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "component" "operator"). */}}
{{- define "shortlink.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shortlink.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "shortlink.componentLabels" -}}
{{ include "shortlink.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "shortlink.operator.fullname" -}}
{{- printf "%s-operator" (include "shortlink.fullname" .) }}
{{- end }}

{{- define "shortlink.redirector.fullname" -}}
{{- printf "%s-redirector" (include "shortlink.fullname" .) }}
{{- end }}

{{- define "shortlink.operator.serviceAccountName" -}}
{{- default (include "shortlink.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- end }}

{{- define "shortlink.redirector.serviceAccountName" -}}
{{- default (include "shortlink.redirector.fullname" .) .Values.redirector.serviceAccount.name }}
{{- end }}

{{/* An image reference from {repository, tag, digest}; call with (dict "root" $ "image" ...). */}}
{{- define "shortlink.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/*
Pod Security "restricted", for every pod and container of the chart: the images run as the
numeric non-root user 65532, with no privilege escalation, no capabilities, the runtime's default
seccomp profile and a read-only root filesystem (writable scratch space is an emptyDir at /tmp).
*/}}
{{- define "shortlink.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "shortlink.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The contents of a file the observability switches need, or a clear failure without it. */}}
{{- define "shortlink.requiredFile" -}}
{{- $content := .root.Files.Get .path }}
{{- if not $content }}
{{- fail (printf "%s is on, but the chart has no %s: add the file to the chart or turn the switch off" .switch .path) }}
{{- end }}
{{- $content }}
{{- end }}

{{/* NetworkPolicy egress rules: DNS anywhere, and the API server. */}}
{{- define "shortlink.egressToApiServerAndDns" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
- to:
    {{- range .Values.networkPolicy.apiServerCIDRs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    {{- range .Values.networkPolicy.apiServerPorts }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
