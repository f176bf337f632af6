{{/* Names, labels and the pieces every pod shares. */}}

{{- define "tickwise.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tickwise.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "tickwise.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "tickwise.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tickwise.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "tickwise.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tickwise
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "scheduler") */}}
{{- define "tickwise.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tickwise.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tickwise.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret with DATABASE_URL (and OPENAI_API_KEY) the services read. */}}
{{- define "tickwise.envSecret" -}}
{{- printf "%s-env" (include "tickwise.fullname" .) -}}
{{- end -}}

{{- define "tickwise.databaseSecret" -}}
{{- default (include "tickwise.envSecret" .) .Values.database.existingSecret -}}
{{- end -}}

{{/* The Secret the pre-install hooks read: it exists before the release's own resources do. */}}
{{- define "tickwise.hookSecret" -}}
{{- printf "%s-hook-env" (include "tickwise.fullname" .) -}}
{{- end -}}

{{/* The environment every Tickwise container has: logs and, unless told not to, DATABASE_URL. */}}
{{- define "tickwise.commonEnv" -}}
- name: TICKWISE_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: TICKWISE_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
{{- end -}}

{{- define "tickwise.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "tickwise.databaseSecret" . }}
      key: DATABASE_URL
{{- end -}}

{{/* The target policy, from the ConfigMap: one setting for every service that calls or writes URLs. */}}
{{- define "tickwise.targetEnv" -}}
{{- $config := printf "%s-config" (include "tickwise.fullname" .) -}}
- name: TICKWISE_ALLOW_PRIVATE_TARGETS
  valueFrom:
    configMapKeyRef: { name: {{ $config }}, key: TICKWISE_ALLOW_PRIVATE_TARGETS }
{{- if .Values.targets.allow }}
- name: TICKWISE_ALLOW_TARGETS
  valueFrom:
    configMapKeyRef: { name: {{ $config }}, key: TICKWISE_ALLOW_TARGETS }
{{- end }}
{{- if .Values.targets.deny }}
- name: TICKWISE_DENY_TARGETS
  valueFrom:
    configMapKeyRef: { name: {{ $config }}, key: TICKWISE_DENY_TARGETS }
{{- end }}
{{- end -}}

{{/* extra env from a map of a component's values: (dict "env" .Values.scheduler.env) */}}
{{- define "tickwise.extraEnv" -}}
{{- range $name, $value := .env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Liveness on /healthz, readiness on /readyz of a named port. */}}
{{- define "tickwise.probes" -}}
livenessProbe:
  httpGet: { path: /healthz, port: {{ . }} }
  initialDelaySeconds: 10
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 6
readinessProbe:
  httpGet: { path: /readyz, port: {{ . }} }
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
{{- end -}}

{{/* Pod spec parts shared by every Tickwise pod. */}}
{{- define "tickwise.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  - name: tmp
    emptyDir: {}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "tickwise.containerCommon" -}}
image: {{ include "tickwise.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{- define "tickwise.validate" -}}
{{- if and .Values.analytics.enabled (not .Values.kafka.brokers) -}}
{{- fail "analytics.enabled needs kafka.brokers (the analytics consumer reads the run-event topic from Kafka); set kafka.brokers or analytics.enabled=false" -}}
{{- end -}}
{{- if and .Values.scheduler.perZone.enabled (not .Values.scheduler.perZone.zones) -}}
{{- fail "scheduler.perZone.enabled needs scheduler.perZone.zones (each with a name and a placement)" -}}
{{- end -}}
{{- if not (has .Values.connector.template (list "yugabytedb" "postgres")) -}}
{{- fail (printf "connector.template must be yugabytedb or postgres, got %q" .Values.connector.template) -}}
{{- end -}}
{{- if not (kindIs "bool" .Values.targets.allowPrivate) -}}
{{- fail (printf "targets.allowPrivate must be true or false, got %v" .Values.targets.allowPrivate) -}}
{{- end -}}
{{- if and (not .Values.database.existingSecret) (not .Values.database.url) -}}
{{- fail "database.url (DATABASE_URL) or database.existingSecret is required" -}}
{{- end -}}
{{- end -}}
