{{/* Name of the App's Deployment, Service and ServiceAccount; upstream's callers use <release>-servicex-app. */}}
{{- define "servicex-app.fullname" -}}
{{ printf "%s-servicex-app" .Release.Name }}
{{- end }}

{{/* The App's pods; the component label keeps the CronJobs' pods out of the Service. */}}
{{- define "servicex-app.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: app
{{- end }}

{{- define "servicex-app.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "servicex-app.serviceAccountName" -}}
{{ .Values.serviceAccount.name | default (include "servicex-app.fullname" .) }}
{{- end }}

{{/* The Secret holding credentials: an existing one, or the one this chart creates. */}}
{{- define "servicex-app.secretName" -}}
{{ .Values.secrets.existingSecret | default (include "servicex-app.fullname" .) }}
{{- end }}

{{/* Name of the ClusterIP Service of the App's internal port (app.internal); never behind the Ingress. */}}
{{- define "servicex-app.internalServiceName" -}}
{{ printf "%s-internal" (include "servicex-app.fullname" .) }}
{{- end }}

{{/* Base URL of the App's internal routes, for the CronJobs: the internal Service, or the one Service. */}}
{{- define "servicex-app.internalURL" -}}
{{- if .Values.app.internal.enabled -}}
{{ printf "http://%s:%v" (include "servicex-app.internalServiceName" .) .Values.app.internal.servicePort }}
{{- else -}}
{{ printf "http://%s:%v" (include "servicex-app.fullname" .) .Values.app.service.port }}
{{- end }}
{{- end }}

{{/* Labels the App puts on its transformer pods (TRANSFORMER_POD_LABELS); the NetworkPolicy selects them. */}}
{{- define "servicex-app.transformerPodLabels" -}}
app.kubernetes.io/component: transformer
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
