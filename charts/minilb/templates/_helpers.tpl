{{- define "minilb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "minilb.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "minilb.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "minilb.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "minilb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "minilb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "minilb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "minilb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "minilb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "minilb.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The DNS port inside the pod: the port of config.listen ("[host]:port"), so the Service, the hostPort and the
     MiniLbConfig can never disagree. */}}
{{- define "minilb.dnsPort" -}}
{{- regexFind "[0-9]+$" .Values.config.listen }}
{{- end }}

{{- define "minilb.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Cross-field rules values.schema.json cannot express; each message names the values to change. */}}
{{- define "minilb.validate" -}}
{{- if eq (include "minilb.dnsPort" .) (toString .Values.monitoring.port) }}
{{- fail (printf "config.listen (%s) and monitoring.port (%v) use the same port: DNS and the /healthz, /readyz, /metrics endpoint need different ports" .Values.config.listen .Values.monitoring.port) }}
{{- end }}
{{- if and (eq .Values.dnsService.type "LoadBalancer") (eq .Values.dnsService.loadBalancerClass .Values.config.loadBalancerClass) }}
{{- fail (printf "dnsService.loadBalancerClass must not be minilb's own class %q: the router needs the DNS Service's address before minilb can answer anything; use another load balancer (MetalLB, kube-vip) or type NodePort" .Values.config.loadBalancerClass) }}
{{- end }}
{{- end }}
