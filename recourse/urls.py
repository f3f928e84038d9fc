app_name = "recourse"
urlpatterns = []
