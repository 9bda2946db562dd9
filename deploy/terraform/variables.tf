variable "prefix" {
  description = "Lower-case letters and digits; names the resources (ACR and storage need globally unique names)."
  type        = string
  default     = "textrepair"
  validation {
    condition     = can(regex("^[a-z0-9]{3,16}$", var.prefix))
    error_message = "prefix: 3-16 lower-case letters or digits."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
  default     = "westeurope"
}

variable "node_count" {
  description = "Initial AKS nodes (the autoscaler moves between min and max)."
  type        = number
  default     = 2
}

variable "node_min" {
  type    = number
  default = 2
}

variable "node_max" {
  type    = number
  default = 5
}

variable "node_vm_size" {
  description = "CPU nodes: the model runs on CPU."
  type        = string
  default     = "Standard_D4s_v5"
}

variable "api_authorized_ip_ranges" {
  description = "Public IPv4 CIDRs of the operators and CI: they alone reach the Kubernetes API server, the Key Vault and the lake's public endpoint. The default is a documentation range (TEST-NET-3) that reaches nothing: set yours."
  type        = list(string)
  default     = ["203.0.113.0/24"]
  validation {
    # Storage network rules take /0-/30 or a bare address (main.tf trims "/32"), never /31, and
    # an allow-all range would undo every firewall here.
    condition = length(var.api_authorized_ip_ranges) > 0 && alltrue([
      for cidr in var.api_authorized_ip_ranges :
      can(cidrnetmask(cidr)) && !contains(["0", "31"], element(split("/", cidr), 1))
    ])
    error_message = "api_authorized_ip_ranges: one or more IPv4 CIDRs (a.b.c.d/n), none /0 or /31."
  }
}

variable "tags" {
  type    = map(string)
  default = { project = "textrepair" }
}

variable "vnet_cidr" {
  description = "Address space of the cluster's VNet."
  type        = string
  default     = "10.42.0.0/16"
}

variable "nodes_subnet_cidr" {
  description = "AKS nodes and pods (Azure CNI)."
  type        = string
  default     = "10.42.0.0/23"
}

variable "endpoints_subnet_cidr" {
  description = "Private endpoints; deploy/k8s/base/networkpolicy.yaml allows HTTPS to it: keep them equal."
  type        = string
  default     = "10.42.2.0/24"
}

variable "service_cidr" {
  description = "Kubernetes service addresses: outside the VNet."
  type        = string
  default     = "10.43.0.0/16"
}
