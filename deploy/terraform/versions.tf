terraform {
  required_version = ">= 1.6"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }

  # Remote state in Azure Storage: shared, locked (blob lease) and out of git. Create it once:
  #   az group create --name textrepair-tfstate --location westeurope
  #   az storage account create --name <unique>tfstate --resource-group textrepair-tfstate \
  #     --sku Standard_GRS --min-tls-version TLS1_2 --allow-blob-public-access false \
  #     --allow-shared-key-access false
  #   az storage container create --name tfstate --account-name <unique>tfstate --auth-mode login
  #   (your identity needs "Storage Blob Data Contributor" on that account)
  # then: terraform init -backend-config=storage_account_name=<unique>tfstate
  backend "azurerm" {
    resource_group_name = "textrepair-tfstate"
    container_name      = "tfstate"
    key                 = "textrepair.tfstate"
    use_azuread_auth    = true
  }
}

provider "azurerm" {
  features {}
  storage_use_azuread = true # the lake account allows no shared keys: data-plane calls use Entra ID
}
