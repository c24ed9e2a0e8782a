{{/* Names: <release>-<chart> unless overridden, 63 characters at most. */}}
{{- define "gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gateway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "gateway.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gateway.labels" -}}
{{ include "gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding REDIS_URL and the token key: the chart's own, or an existing one. */}}
{{- define "gateway.secretName" -}}
{{- default (include "gateway.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{/*
Seconds Kubernetes waits after SIGTERM: the preStop sleep (endpoints leave the
load balancers), the drain window (viewers are moved in batches), and 10 s to exit.
*/}}
{{- define "gateway.terminationGracePeriod" -}}
{{- add .Values.preStopSleepSeconds (div .Values.config.drainWindowMs 1000) 10 -}}
{{- end -}}

{{/*
Ingress annotations: long timeouts for WebSocket and SSE on ingress-nginx, and
cookie affinity only when Engine.IO polling is enabled; the user's annotations win.
*/}}
{{- define "gateway.ingressAnnotations" -}}
{{- $defaults := dict -}}
{{- if eq .Values.ingress.className "nginx" -}}
{{- $_ := set $defaults "nginx.ingress.kubernetes.io/proxy-read-timeout" "3600" -}}
{{- $_ := set $defaults "nginx.ingress.kubernetes.io/proxy-send-timeout" "3600" -}}
{{- $_ := set $defaults "nginx.ingress.kubernetes.io/proxy-buffering" "off" -}}
{{- if .Values.polling.enabled -}}
{{- $_ := set $defaults "nginx.ingress.kubernetes.io/affinity" "cookie" -}}
{{- $_ := set $defaults "nginx.ingress.kubernetes.io/session-cookie-name" "GWSERVER" -}}
{{- end -}}
{{- end -}}
{{- toYaml (merge (deepCopy .Values.ingress.annotations) $defaults) -}}
{{- end -}}
