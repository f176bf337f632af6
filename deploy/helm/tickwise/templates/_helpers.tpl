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

{{/*
  The secrets key, for the pods that read it (scheduler, gateway) and no other: from the chart's
  Secret when given as a value, else from secretsKey.existingSecret, where the old key is optional
  because it is there only during a rotation.
*/}}
{{- define "tickwise.secretsKeyEnv" -}}
{{- $values := .Values.secretsKey -}}
{{- $secret := $values.existingSecret | default (include "tickwise.envSecret" .) -}}
{{- if or $values.value $values.existingSecret }}
- name: TICKWISE_SECRETS_KEY
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: TICKWISE_SECRETS_KEY }
{{- end }}
{{- if $values.existingSecret }}
- name: TICKWISE_SECRETS_OLD_KEY
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: TICKWISE_SECRETS_OLD_KEY, optional: true }
{{- else if $values.oldValue }}
- name: TICKWISE_SECRETS_OLD_KEY
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: TICKWISE_SECRETS_OLD_KEY }
{{- end }}
{{- end -}}

{{/*
  TICKWISE_PUBLIC_URL: publicUrl, else the Ingress's one plain host (no wildcard, path /), else empty.
  A host behind another path or several hosts cannot be guessed: publicUrl says it then.
*/}}
{{- define "tickwise.publicUrl" -}}
{{- $ingress := .Values.gateway.ingress -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else if and $ingress.enabled (eq (len $ingress.hosts) 1) -}}
{{- $rule := first $ingress.hosts -}}
{{- $plain := and $rule.host (not (contains "*" $rule.host)) -}}
{{- range $rule.paths }}{{ if ne .path "/" }}{{ $plain = false }}{{ end }}{{ end -}}
{{- if $plain -}}
{{- $https := false -}}
{{- range $ingress.tls }}{{ if has $rule.host (.hosts | default list) }}{{ $https = true }}{{ end }}{{ end -}}
{{- printf "%s://%s" (ternary "https" "http" $https) $rule.host -}}
{{- end -}}
{{- end -}}
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
{{- $secretsKey := .Values.secretsKey -}}
{{- if and $secretsKey.value $secretsKey.existingSecret -}}
{{- fail "secretsKey.value and secretsKey.existingSecret are both set: set one of them (the key goes into the chart's Secret, or comes from yours)" -}}
{{- end -}}
{{- if and $secretsKey.oldValue $secretsKey.existingSecret -}}
{{- fail "secretsKey.oldValue is set with secretsKey.existingSecret: put the old key in that Secret as TICKWISE_SECRETS_OLD_KEY" -}}
{{- end -}}
{{- if and $secretsKey.oldValue (not $secretsKey.value) -}}
{{- fail "secretsKey.oldValue is set without secretsKey.value: during a rotation give both, the new key as secretsKey.value" -}}
{{- end -}}
{{- /* The key itself is never echoed: a mistyped key is still a secret. */ -}}
{{- range $name, $key := dict "secretsKey.value" $secretsKey.value "secretsKey.oldValue" $secretsKey.oldValue -}}
{{- if and $key (not (regexMatch "^[A-Za-z0-9+/]{43}=$" (trim $key))) -}}
{{- fail (printf "%s must be the base64 of 32 random bytes (44 characters, the last one =); make one with: openssl rand -base64 32" $name) -}}
{{- end -}}
{{- end -}}
{{- with .Values.publicUrl -}}
{{- if not (regexMatch "^https?://[^/?#@[:space:]]+(/[^?#[:space:]]*)?$" .) -}}
{{- fail (printf "publicUrl must be the http(s) address people open Tickwise at, such as https://tickwise.example.com (no query, fragment or credentials), got %q" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
